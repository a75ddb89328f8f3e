"""The benchmarks' goal bookkeeping (no timing here: speed goals live in benchmarks/)."""
from benchmarks import run


def _result(minigrad, torch=None, numpy=None, functional=None):
    values = {"minigrad": [minigrad] * 3}
    for name, v in (("torch", torch), ("numpy", numpy), ("functional", functional)):
        if v is not None:
            values[name] = [v] * 3
    res = {"values": values, "summary": run.summarize(values),
           "ratios": {"minigrad/torch": run.ratio(values, "minigrad", "torch"),
                      "minigrad/numpy": run.ratio(values, "minigrad", "numpy")}}
    if functional is not None:
        res["ratios"]["functional/minigrad"] = run.ratio(values, "functional", "minigrad")
    return res


def test_verdicts_follow_the_goals_of_issue_23():
    assert run.verdict("conv2d", _result(11.4, torch=10.0)) == "met"
    assert run.verdict("conv2d", _result(11.6, torch=10.0)) == "missed"
    assert run.verdict("dcgan_g2", _result(1.2, torch=1.0)) == "missed"
    assert run.verdict("dcgan_g3", _result(9.0, torch=1.0)) == ""          # no goal of its own
    assert run.verdict("op_overhead", _result(3.9, torch=5.0)) == "met"
    assert run.verdict("op_overhead", _result(4.1, torch=5.0)) == "missed"
    # the VAE has two goals: both must hold
    assert run.verdict("vae", _result(1.0, numpy=1.0, functional=1.04)) == "met"
    assert run.verdict("vae", _result(1.0, numpy=1.0, functional=1.2)) == "missed"


def test_goals_table_says_what_the_verdicts_say():
    results = {"conv2d": _result(12.0, torch=10.0), "op_overhead": _result(3.5, torch=5.0),
               "dcgan_g3": _result(2.0, torch=1.0)}
    lines = run.goals_table(results).splitlines()
    assert lines[0] == "| workload | goal | measured | verdict |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert set(rows) == {"conv2d", "op_overhead"}
    assert rows["conv2d"].endswith("| 1.20× [1.20–1.20] | missed |")
    assert "minigrad / torch <= 1.15×" in rows["conv2d"]
    assert rows["op_overhead"].endswith("| 3.50 µs | met |")
    for name, line in rows.items():
        assert line.endswith(f"| {run.verdict(name, results[name])} |")
