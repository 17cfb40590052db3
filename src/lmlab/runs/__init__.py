"""What a run is: the run folder (directory), the family registry (families) and `Run` (run).

A family is registered once in the `families` package; shared code asks the registry instead of branching on
a family's name.
"""
