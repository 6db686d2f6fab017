"""The blocksim kernel's arguments, bundled: three NamedTuples numba passes as structs.

``simulate_batch(blocks, table, config)`` (:mod:`envs.blocksim.model`) takes

- :class:`BlockArrays`: the batch of compiled blocks (per instruction and per
  dependency arrays, see :class:`envs.blocksim.simulator.CompiledBlock`),
- :class:`TableArrays`: the table rows of the batch's keys and the CPU's resources,
- :class:`KernelConfig`: scalars (iterations, widths, queue sizes, switches).

All arrays are int64 unless noted; n instructions in the batch, r dependencies, k keys,
m resources, u units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class BlockArrays(NamedTuple):
    """A batch of compiled blocks (b blocks, n instructions, r dependencies)."""

    blk_ptr: np.ndarray  # [b+1] CSR: instructions of each block
    inst_row: np.ndarray  # [n] table row (key) of each instruction
    rd_ptr: np.ndarray  # [n+1] CSR: dependencies of each instruction
    rd_pos: np.ndarray  # [r] producer position in its block
    rd_dist: np.ndarray  # [r] 0 = same iteration, 1 = previous one
    rd_lofs: np.ndarray  # [r] producer write latency offset (cycles)
    rd_kind: np.ndarray  # [r] 0 plain, 1 ReadAdvance, 2 partial write, 3 memory
    elim: np.ndarray  # bool [n] eliminated register move
    is_store: np.ndarray  # bool [n]
    is_load: np.ndarray  # bool [n]
    ps_pos: np.ndarray  # [n] previous store's position (-1: none)
    ps_dist: np.ndarray  # [n] its distance in iterations
    pl_pos: np.ndarray  # [n] previous load's position (-1: none)
    pl_dist: np.ndarray  # [n]
    users: np.ndarray  # [n] dependencies on each instruction's writes


class TableArrays(NamedTuple):
    """Table rows of a batch's keys (k keys) and the CPU's resources (m, u units)."""

    lat: np.ndarray  # [k] latency (cycles)
    uops: np.ndarray  # [k] micro-ops
    ra: np.ndarray  # [k] ReadAdvance (cycles)
    res_ptr: np.ndarray  # [k+1] CSR: resources each key uses, in allocation order
    res_id: np.ndarray  # resource of each use
    res_cyc: np.ndarray  # cycles of each use
    ru_ptr: np.ndarray  # [m+1] CSR: units of each resource (llvm-mca's mask order)
    ru_idx: np.ndarray  # unit of each (resource, position)
    ur_ptr: np.ndarray  # [u+1] CSR: resources containing each unit
    ur_res: np.ndarray  # resource
    ur_pos: np.ndarray  # the unit's position among that resource's units
    buf_ptr: np.ndarray  # [k+1] CSR: scheduler buffers each key takes
    buf_id: np.ndarray  # buffer of each entry
    buf_size: np.ndarray  # entries of each buffer
    rs_ptr: np.ndarray  # [k+1] CSR: groups each key reserves whole (llvm-mca "reserved")
    rs_id: np.ndarray  # resource
    rs_cyc: np.ndarray  # cycles it stays reserved


class KernelConfig(NamedTuple):
    """Scalars of one kernel call."""

    iterations: int
    dispatch_width: int
    rob_size: int
    lq_size: int  # load queue entries (0: unbounded)
    sq_size: int  # store queue entries (0: unbounded)
    store_forward: int  # extended model's store-to-load forwarding latency (cycles)
    store_forward_fail: int  # its wait when a load overlaps a store in part (cycles)
    store_forward_stack: int  # its latency through the memory file (stack pairs, cycles)
    n_units: int
    extrapolate: bool
    jump: bool
