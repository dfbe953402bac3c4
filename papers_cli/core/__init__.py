"""The core: what a paper is (fields, models), the one validator, the options' specs,
dates, titles, the one sanitiser, errors. Imports nothing else of papers_cli."""
