"""Services people copy: each module is a Sova plugin (`plugins: [examples.<module>]` in agents.yaml)."""
