"""Background workers: the loop they share (transient errors logged, waited out, survived) and
the heartbeat each leaves, shown by ``flask mail status`` and the staff dashboard."""
