from vigilo.cli.main import main

main()
