from gristmill.demo.corpus import main

main()
