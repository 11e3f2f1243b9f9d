from burncloud.cli.app import main

main()
