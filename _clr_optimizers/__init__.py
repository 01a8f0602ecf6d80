"""The parts of `clr_optimizers`, one job per file.

`clr_optimizers.py` (the update step, the seven optimizers and every public
name) imports from here; nothing here imports it. Within the package
imports go one way, each file from those above it:

    checks   numbers and counters as the graph sees them, validated
    ops      the two sets of ops a schedule is written over (graph, numpy)
    policies one file per schedule policy, and their table
    schedule the `clr` dict validated, the schedule, `clr_schedule`
    docs     the shared argument docs, written once (from the policies)
    graph    an update's plumbing: shared reads, in-place writes' order
    lr_view  `optimizer.lr` on a schedule, for Keras's LR callbacks
    schedule_state   an optimizer's schedule as one object
    per_parameter    weight decay, its exclusions, the LR multipliers
    persistence      the config, the saved state and its checks
    callbacks, range_test   what works beside a compiled model
    plots    drawing a schedule (matplotlib, imported when called)

Not a public API: import the names from `clr_optimizers`.
"""
