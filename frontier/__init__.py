"""Pure domain logic of gapwatch: gap series, lag, VRAM fits, prediction rules, audit, charts.

Nothing here does I/O or imports discord, sqlmodel, httpx or apscheduler: plain frozen
dataclasses in, plain frozen dataclasses out (charts return PNG bytes).
"""
