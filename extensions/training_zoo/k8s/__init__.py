"""Kubernetes support: the cluster catalogue (flavors, images, teams), KubeSpawner profiles, and the
objects TZ generates for Kubernetes (TrainJobs, training runtimes, Kueue queues, RBAC).

Everything here is pure data in, dicts out: it never talks to an API server, so every object can be
validated offline against the real schemas.
"""
