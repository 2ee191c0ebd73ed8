"""Kueue objects for TZ's teams: one ResourceFlavor per GPU shape, and per team a ClusterQueue with
the team's nominal quota and a LocalQueue in the jobs namespace (what TrainJobs are labelled with).

Teams share one cohort by default, so an idle team's quota can be borrowed by a busy one and
reclaimed when it is needed again (``reclaimWithinCohort: Any``).
"""

from __future__ import annotations

from typing import Any

from .catalog import GPU_RESOURCE, TzCluster
from .trainjob import MANAGED_BY

KUEUE_API = "kueue.x-k8s.io/v1beta2"
DEFAULT_FLAVOR = "tz-default"


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {MANAGED_BY[0]: MANAGED_BY[1]}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def kueue_objects(cluster: TzCluster) -> list[dict[str, Any]]:
    """ResourceFlavor, and a ClusterQueue + LocalQueue per team, from ``cluster.teams``."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": _meta(DEFAULT_FLAVOR)}
    ]
    for team in cluster.all_teams():
        objects.append({
            "apiVersion": KUEUE_API,
            "kind": "ClusterQueue",
            "metadata": _meta(team.queue),
            "spec": {
                "namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": cluster.namespace}},
                "cohortName": team.cohort,
                "queueingStrategy": "BestEffortFIFO",
                "resourceGroups": [{
                    "coveredResources": ["cpu", "memory", GPU_RESOURCE],
                    "flavors": [{"name": DEFAULT_FLAVOR, "resources": [
                        {"name": "cpu", "nominalQuota": team.cpu},
                        {"name": "memory", "nominalQuota": team.memory},
                        {"name": GPU_RESOURCE, "nominalQuota": team.gpus},
                    ]}],
                }],
                "preemption": {"reclaimWithinCohort": "Any",
                               "withinClusterQueue": "LowerPriority"},
            },
        })  # fmt: skip
        objects.append(
            {
                "apiVersion": KUEUE_API,
                "kind": "LocalQueue",
                "metadata": _meta(team.queue, cluster.namespace),
                "spec": {"clusterQueue": team.queue},
            }
        )
    return objects
