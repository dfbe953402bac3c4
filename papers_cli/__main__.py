from papers_cli.cli import main

main()
