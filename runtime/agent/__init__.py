"""One agent process: the `Agent` (`agent`: unlock, register, serve, schedule) and its standing goals
(`goals`).
"""
