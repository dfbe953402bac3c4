# Names vulture cannot see used (`make lint` runs vulture with this file).
# ruff: noqa
from papers_cli.cli import app, build
from papers_cli.core import models
from papers_cli.verbs import curate, fetching, search

# typer reads a generated callback's signature and annotations.
build.command.__signature__  # type: ignore
build.command.__annotations__
# The module's `app`, for tests that drive typer's CliRunner.
app.__getattr__
# Long help texts, named in the verb table (papers_cli/verbs/__init__.py).
search.SEARCH_HELP, search.SIMILAR_HELP, fetching.FETCH_HELP, curate.EXPORT_HELP
curate.DEDUPE_HELP
# PaperRecord fields set by parsers and read by name through the field table.
models.PaperRecord.code_links, models.PaperRecord.project_page
models.PaperRecord.ai_summary, models.PaperRecord.thumbnail
models.PaperRecord.authors_count, models.PaperRecord.organization
models.PaperRecord.organization_handle
# Called by others: io on a closed stdout's stand-in, rich on a closed pipe.
from papers_cli import __main__ as entry
from papers_cli.render import terminal
entry._Closed.writable
terminal.console.on_broken_pipe  # type: ignore
# papers serve: Datasette calls the plugin's hooks by name and the read-only database's
# write methods; the verb table names the long help.
from papers_cli.verbs import serve
from papers_cli.web import plugin, server
serve.SERVE_HELP
plugin.prepare_connection, plugin.asgi_wrapper, plugin.handle_exception
plugin.register_routes, plugin.prepare_jinja2_environment, plugin.menu_links
plugin.render_cell
server.ReadOnlyDatabase.execute_write, server.ReadOnlyDatabase.execute_write_fn
