"""Training jobs: spec (:mod:`.types`), lifecycle and queue (:mod:`.manager`), REST handlers
(:mod:`.handlers`) and compute backends (:mod:`.backends`)."""
