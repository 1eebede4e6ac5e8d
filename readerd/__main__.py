from readerd.cli import main

main()
