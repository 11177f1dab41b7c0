"""Oracles: the reference methods that label structures (one per file).

* :class:`.emt.EMTOracle` - ASE EMT (tests, benchmarks).
* :class:`.xtb.XTBOracle` - GFN2-xTB through tblite (molecules and periodic cells).
* :class:`.espresso.EspressoOracle` - Quantum ESPRESSO through ASE.
* :class:`.vasp.VaspOracle` - VASP through ASE.

:class:`.label_cache.OracleLabelCache` keeps every label on disk so that no call is paid twice.
"""
