"""Stream groups of the real job's video windows: which consecutive windows a worker makes
together, their frames decoded as one stream (``RealJob.groups`` / ``RealJob.group``)."""

from __future__ import annotations

from blurgen.jobs.base import Task

# Windows per stream group: at least GROUP_MIN before a group may end, at most GROUP_MAX
# (the samples of a group come back together).
GROUP_MIN, GROUP_MAX = 16, 48


def stream_groups(tasks: list[Task]) -> list[list[int]]:
    """Indices into ``tasks`` (video windows, in planned order) grouped to be made together:
    runs of at least GROUP_MIN consecutive windows of one video, cut into few groups of at
    most GROUP_MAX windows that start at keyframes (see :func:`_cut`); the windows of shorter
    runs are groups of one (a seek each). Order: the group holding the earliest planned
    task first, so shards complete as the run goes."""
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
    """A run of consecutive windows cut into stream groups. Each group costs one decoder
    start and a seek to its first frame, which decodes from the keyframe before it, so
    groups are few and start at keyframes: while more than GROUP_MAX windows are left, they
    are split into the fewest equal shares of at most GROUP_MAX (workers share the groups),
    and the cut goes to the window just after a keyframe (payload ``after_key``) nearest
    the end of the first share, GROUP_MIN..GROUP_MAX windows after the group's start; only
    where no keyframe falls in that range is it cut mid-GOP, at the share's end."""
    if len(run) < GROUP_MIN:
        return [[i] for i in run]
    after_key = [bool(tasks[i].payload["after_key"]) for i in run]
    groups, start = [], 0
    while len(run) - start > GROUP_MAX:
        left = len(run) - start
        size = -(-left // -(-left // GROUP_MAX))  # equal shares of at most GROUP_MAX
        keys = [j for j in range(start + GROUP_MIN, start + GROUP_MAX + 1) if after_key[j]]
        end = min(keys, key=lambda j: abs(j - start - size)) if keys else start + size
        groups.append(run[start:end])
        start = end
    groups.append(run[start:])
    return groups
