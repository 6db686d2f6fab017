"""Ground truth shared by the timing task families: measurement on this CPU (with its
C helper), CPU identity, measured block datasets and their loaders.

Nothing here knows a simulator or an agent; the mca and blocksim families load their
datasets from here.
"""
