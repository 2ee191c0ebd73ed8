"""Job spec validation: what users may submit, and the message they get when they may not."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from training_zoo.errors import InvalidRequest
from training_zoo.jobs.types import parse_spec, spec_from_dict


@dataclass
class Case:
    name: str
    body: dict
    field: str | None = None  # None: valid


CASES = [
    Case("minimal cell", {"name": "a", "code": "print(1)"}),
    Case(
        "kubeflow-like",
        {
            "name": "bert.ft_1",
            "entry": "train.py",
            "snapshot": "a" * 64,
            "nodes": 2,
            "procs_per_node": 4,
            "resources_per_node": {"gpus": 1, "cpus": 4, "memory": "16Gi"},
            "args": ["--lr", "0.1"],
            "env": {"WANDB_MODE": "off"},
            "max_retries": 1,
            "timeout": 3600,
            "priority": 10,
        },
    ),
    Case("custom command", {"name": "c", "framework": "custom", "command": ["bash", "run.sh"]}),
    Case("command needs custom", {"name": "c", "command": ["bash"]}, "command"),
    Case("two entries", {"name": "a", "code": "x", "entry": "t.py", "snapshot": "a" * 64}, "entry"),
    Case("dot-dot hidden", {"name": "a", "entry": "x/../../t.py", "snapshot": "a" * 64}, "entry"),
    Case("windows path", {"name": "a", "entry": "C:\\t.py", "snapshot": "a" * 64}, "entry"),
    Case("bool is not int", {"name": "a", "code": "x", "nodes": True}, "nodes"),
    Case("too many nodes", {"name": "a", "code": "x", "nodes": 1000}, "nodes"),
    Case("bad env name", {"name": "a", "code": "x", "env": {"1X": "y"}}, "env.1X"),
    Case("env value not str", {"name": "a", "code": "x", "env": {"X": 1}}, "env.X"),
    Case(
        "unknown resource",
        {"name": "a", "code": "x", "resources_per_node": {"tpus": 1}},
        "resources_per_node.tpus",
    ),
    Case("snapshot not an id", {"name": "a", "entry": "t.py", "snapshot": "../x"}, "snapshot"),
    Case("name too long", {"name": "a" * 64, "code": "x"}, "name"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parse_spec(case):
    if case.field is None:
        spec = parse_spec(case.body)
        # and it survives the database round trip
        assert spec_from_dict(spec.to_dict()) == spec
        return
    with pytest.raises(InvalidRequest) as info:
        parse_spec(case.body)
    assert info.value.errors and case.field in info.value.errors
    assert info.value.message.startswith(case.field)


def test_world_size_is_nodes_times_procs():
    assert parse_spec({"name": "a", "code": "x", "nodes": 3, "procs_per_node": 2}).world_size == 6


@pytest.mark.parametrize(("quantity", "expected"), [
    (None, None), ("512Mi", 512 * 2**20), ("4Gi", 4 * 2**30), ("1.5Gi", int(1.5 * 2**30)),
    ("2G", 2 * 10**9), ("1000", 1000), ("64Ki", 65536),
])  # fmt: skip
def test_memory_quantities_read_like_kubernetes(quantity, expected):
    from training_zoo.jobs.backends.supervisor import parse_memory

    assert parse_memory(quantity) == expected
