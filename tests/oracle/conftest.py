"""The oracle's self-tests take their NOR images from the agent's ``imagegen`` (a producer
only); pytest.ini puts agent/src on the path."""
