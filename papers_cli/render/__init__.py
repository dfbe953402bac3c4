"""Rendering: the only code that writes for a terminal. Cells and rows in every format,
a paper's page, reports, progress bars, questions, the pager; all text through
core/sanitize.for_terminal."""
