"""One agent process: the `Agent` (`agent`: unlock, register, serve, schedule), its standing goals
(`goals`) and its working parts (`parts`: the `AgentParts` assembly the agent, the test rigs and
the benches share).
"""
