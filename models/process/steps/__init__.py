"""One module for each step of the process: each declares its ``Step`` (or ``AutomaticStage``) with everything about
it. A new step is a new module here; ``models/process/table.py`` finds it."""
