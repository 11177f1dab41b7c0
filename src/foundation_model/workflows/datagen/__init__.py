"""Training-data generation for interatomic potentials: generate -> explore -> sample -> store.

Modules are imported on use (no heavy import here). Entry points:

* :mod:`.calculators` - serialisable calculator specs with late binding.
* :mod:`.executor` - ``TaskExecutor`` (local processes or Dask) with failure capture.
* :mod:`.labelling` - label structures with a spec in workers.
* :mod:`.pipeline` - the ``fm datagen`` configuration and orchestrator.
"""
