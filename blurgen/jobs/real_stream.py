"""Stream groups of the real job's video windows: which consecutive windows a worker makes
together, their frames decoded as one stream (``RealJob.groups`` / ``RealJob.group``)."""

from __future__ import annotations

from blurgen.jobs.base import Task

# Windows per stream group: at least GROUP_MIN before a group may end (where a keyframe
# lets the next group's seek start close to its first frame), at most GROUP_MAX (the
# samples of a group come back together).
GROUP_MIN, GROUP_MAX = 16, 48


def stream_groups(tasks: list[Task]) -> list[list[int]]:
    """Indices into ``tasks`` (video windows, in planned order) grouped to be made together:
    runs of at least GROUP_MIN consecutive windows of one video, cut into groups of
    GROUP_MIN..GROUP_MAX windows, each (after a run's first) starting just after a keyframe
    when one allows (payload ``after_key``); the windows of shorter runs are groups of one
    (a seek each). Order: the group holding the earliest planned task first, so shards
    complete as the run goes."""
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].payload["video"], tasks[i].payload["frames"][0]))
    runs: list[list[int]] = []
    for i in order:
        p = tasks[i].payload
        last = tasks[runs[-1][-1]].payload if runs else None
        if last is not None and last["video"] == p["video"] and last["frames"][1] + 1 == p["frames"][0]:
            runs[-1].append(i)
        else:
            runs.append([i])
    groups = [g for run in runs for g in _cut(run, tasks)]
    return sorted(groups, key=min)


def _cut(run: list[int], tasks: list[Task]) -> list[list[int]]:
    """A run of consecutive windows cut into stream groups (see :func:`stream_groups`)."""
    if len(run) < GROUP_MIN:
        return [[i] for i in run]
    groups = [[run[0]]]
    for i in run[1:]:
        n = len(groups[-1])
        if n >= GROUP_MAX or (n >= GROUP_MIN and tasks[i].payload["after_key"]):
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups
