"""A worker process: Dramatiq worker threads for every actor, the dispatcher and the scheduler,
all on one event loop with one database pool (the application role, under RLS).

Started by `python -m backend.cli worker` (`make worker`), the composition root that also
builds the access policies whose field check webhook bodies need. Stops on SIGINT/SIGTERM:
no new messages are taken, running ones finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import dramatiq

from backend.listener import Listener
from backend.settings import Settings
from backend.webhooks.service import Readable
from backend.webhooks.transport import Allowlist
from jobs import events, runtime, scheduler, webhooks
from jobs.broker import broker
from jobs.dispatcher import Dispatcher

log = logging.getLogger("rapport.worker")
ACTORS = (webhooks.deliver, events.prune)  # every actor module, imported so the worker serves them


async def serve(settings: Settings, listener: Listener, readable: Readable, *, threads: int) -> None:
    """Run until SIGINT or SIGTERM. The caller has initialised the database pool; `listener`
    must not have started (the dispatcher subscribes to it)."""
    loop = asyncio.get_running_loop()
    runtime.install(runtime.Runtime(loop, settings, readable, Allowlist.parse(settings.webhook_allowed_hosts)))
    dispatcher = Dispatcher(listener)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await listener.start()
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(scheduler.run(dispatcher))]
    log.info("worker started: %d threads, actors %s", threads, ", ".join(a.actor_name for a in ACTORS))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Worker threads wait on this loop: stop them from another thread while it runs.
        await asyncio.to_thread(worker.stop)
        await listener.stop()
        runtime.install(None)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
