"""The hub-managed TZ service: :class:`~training_zoo.service.app.TzService`
(``python -m training_zoo.service``)."""
