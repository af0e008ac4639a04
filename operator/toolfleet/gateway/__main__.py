"""`python -m toolfleet.gateway`: see toolfleet.gateway.main."""

from toolfleet.gateway.main import main

main()
