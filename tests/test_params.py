import numpy as np
import pytest

from harness.params import CategoricalParam, FloatParam, IntParam, ParamSpace


def space() -> ParamSpace:
    return ParamSpace(
        [
            IntParam("n", -3, 7, 0),
            FloatParam("f", -1.0, 2.0, 0.5),
            FloatParam("lf", 1e-3, 10.0, 1.0, log=True),
            CategoricalParam("c", ("a", "b", 3), "b"),
        ]
    )


def test_default_round_trip() -> None:
    s = space()
    cfg = s.default()
    assert s.decode(s.encode(cfg)) == pytest.approx(cfg)


def test_every_int_and_choice_round_trips() -> None:
    s = space()
    for n in range(-3, 8):
        for c in ("a", "b", 3):
            cfg = {"n": n, "f": 1.25, "lf": 0.01, "c": c}
            back = s.decode(s.encode(cfg))
            assert back["n"] == n and back["c"] == c
            assert back["f"] == pytest.approx(1.25) and back["lf"] == pytest.approx(0.01)


def test_encode_in_unit_cube_and_decode_clips() -> None:
    s = space()
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = s.encode(s.sample(rng))
        assert v.shape == (4,) and np.all((v >= 0) & (v <= 1))
    cfg = s.decode(np.array([-5.0, 9.0, 2.0, -1.0]))
    assert (
        cfg["n"] == -3 and cfg["f"] == 2.0 and cfg["lf"] == pytest.approx(10.0) and cfg["c"] == "a"
    )


def test_log_param_is_log_spaced() -> None:
    p = FloatParam("lf", 1e-3, 10.0, 1.0, log=True)
    assert p.decode(0.5) == pytest.approx(0.1)  # geometric midpoint of 1e-3 and 10


def test_decode_at_the_bounds_stays_valid() -> None:
    for p in (FloatParam("lf", 1e-3, 10.0, 1.0, log=True), FloatParam("f", 0.1, 0.7, 0.3)):
        for u in (0.0, 1.0):
            assert p.validate(p.decode(u)) == p.decode(u)
        assert p.decode(1.0) == p.high and p.decode(0.0) == p.low


def test_seeded_sampling_is_reproducible() -> None:
    s = space()
    a = [s.sample(np.random.default_rng(42)) for _ in range(3)]
    b = [s.sample(np.random.default_rng(42)) for _ in range(3)]
    assert a == b


def test_validate_rejects_bad_values() -> None:
    s = space()
    with pytest.raises(ValueError, match="not in"):
        s.validate({**s.default(), "n": 8})
    with pytest.raises(ValueError, match="not one of"):
        s.validate({**s.default(), "c": "z"})
    with pytest.raises(ValueError, match="unknown"):
        s.validate({**s.default(), "zz": 1})
    with pytest.raises(ValueError, match="missing"):
        s.validate({"n": 1})
    with pytest.raises(ValueError, match="expected an int"):
        s.validate({**s.default(), "n": 1.5})


def test_bad_definitions_rejected() -> None:
    with pytest.raises(ValueError):
        IntParam("x", 0, 3, 5)
    with pytest.raises(ValueError):
        FloatParam("x", 0.0, 1.0, 0.5, log=True)
    with pytest.raises(ValueError):
        ParamSpace([IntParam("x", 0, 3, 1), IntParam("x", 0, 3, 1)])


def test_all_int_space_validates_like_each_param() -> None:
    space = ParamSpace([IntParam(f"p{i}", 0, 5, 1) for i in range(50)])
    good = {f"p{i}": i % 6 for i in range(50)}
    good["p3"] = np.int64(4)
    assert space.validate(good) == {**good, "p3": 4}
    assert all(type(v) is int for v in space.validate(good).values())
    for bad, word in ((True, "expected an int"), (2.0, "expected an int"), (6, "not in")):
        with pytest.raises(ValueError, match=f"p7: .*{word}|p7: {word}"):
            space.validate({**good, "p7": bad})
    # Plain ints take the fast path: the same copy as each parameter's own check, in the
    # space's order whatever the input's order; out-of-range and huge ints still fail.
    rng = np.random.default_rng(0)
    for _ in range(20):
        plain = {f"p{i}": int(v) for i, v in enumerate(rng.integers(0, 6, 50))}
        shuffled = dict(reversed(list(plain.items())))
        got = space.validate(shuffled)
        assert got == {p.name: p.validate(plain[p.name]) for p in space.params}
        assert list(got) == space.names and all(type(v) is int for v in got.values())
    for bad in (-1, 2**70):
        with pytest.raises(ValueError, match="p9: .*not in|p9: not in"):
            space.validate({**plain, "p9": bad})
    with pytest.raises(ValueError, match="unknown parameters"):
        space.validate({**plain, "extra": 1})
    assert list(space.config_of(list(range(50)))) == space.names
    assert space.config_of(list(range(50)))["p7"] == 7
    with pytest.raises(ValueError, match="49 values for a space of 50"):
        space.config_of(list(range(49)))
