"""Practice upload sandbox: learner files judged the way PARS would, before the real upload."""
