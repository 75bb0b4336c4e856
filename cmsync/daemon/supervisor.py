"""``cmsync run``: the supervisor, one process.

It loads the configuration, opens the state store, serves metrics and loops: it runs the scheduled jobs
that are due (each guarded: an exception is logged and counted, never re-run in a tight loop), acts on
the signals it recorded (HUP reloads, USR1 syncs now, TERM and INT stop), dispatches runs started from
another shell, pings the systemd watchdog, and sleeps until the next thing to do. The outbound poller
runs on a thread of its own (started again should it die); with the embedded broker the workers run on
threads of this process too.

An outage of the state store does not stop the loop: it is logged when it starts and when it ends,
``/healthz`` reads degraded meanwhile, and the loop retries with a growing pause (signals still act at
once) until the store answers again. The lease of a supervisor that crashed on this host is taken over
at once; one of another host is waited out until it expires.

As in supervisord, a signal handler only records the signal; the loop acts on it, and once a stop is
recorded a later HUP or USR1 is ignored. A reload builds the new configuration's objects (clients,
schedule) first and swaps them in whole, or keeps the old ones.

``run`` starts the parts in one ordered place (state store, systems, lease, metrics, console, workers,
outbound, systemd) and stops them in reverse, also when a later part fails to start.
"""

import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime

import schedule

from cmsync.config import ConfigError, Settings, load_settings
from cmsync.config.changes import changed_settings, needs_restart
from cmsync.console.service import Console
from cmsync.daemon import metrics
from cmsync.daemon.metrics import MetricsServer
from cmsync.daemon.outbound_loop import OutboundLoop
from cmsync.daemon.signals import STOPS, SignalInbox
from cmsync.daemon.systemd import Notifier
from cmsync.daemon.timetable import add_sync_job, missed_run, next_run, period
from cmsync.logs import configure_from, get_logger
from cmsync.outage import OutageTracker
from cmsync.process_identity import ProcessIdentity, provably_dead
from cmsync.state import StateStore, StateStoreUnavailableError
from cmsync.state.leases import SUPERVISOR_LEASE_TTL
from cmsync.systems import Systems, install
from cmsync.workers.placement import Placement
from cmsync.workers.retention_requests import request_purge, request_purge_after_reload
from cmsync.workers.runs import request_run, tend_runs

log = get_logger(__name__)
DAILY_PURGE_AT = "04:10"
"""When the daily tracking purge is queued (host time); it also runs after every main sync."""
SHUTDOWN_SECONDS = 20
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
"""Pauses between attempts while the state store is unavailable; the last one repeats."""


class Supervisor:
    """Schedules main syncs, acts on signals, serves metrics, and keeps systemd informed."""

    def __init__(
        self,
        config_path: str,
        settings: Settings,
        *,
        notifier: Notifier | None = None,
        adjust: Callable[[Settings], Settings] | None = None,
    ) -> None:
        self.config_path = config_path
        # What the command line changes in every configuration read (``run --metrics-listen``, its ports).
        self.adjust = adjust or (lambda loaded: loaded)
        self.settings = settings
        self.notifier = notifier or Notifier()
        self.owner = ProcessIdentity.this_process().owner
        self.store_outage = OutageTracker("state store", metrics.STATE_STORE_UP, metrics.STATE_STORE_OUTAGES)
        self.failed_attempts = 0
        self.sync_asked = False
        # Set as ``run`` starts the parts.
        self.store: StateStore
        self.systems: Systems
        self.connected: bool
        self.metrics: MetricsServer
        self.placement = Placement(settings.broker)
        self.placement.bind_actors()
        self.outbound = OutboundLoop()
        self.scheduler, self.sync_job = self._schedule(settings)
        self.console = Console(config_path)
        self.signals = SignalInbox()
        self.stopping = False
        self.heartbeat = time.monotonic()
        self.last_watchdog = 0.0
        self.last_finished: int | None = None
        metrics.create_known_series()
        metrics.RELOAD_SUCCESSFUL.set(1)

    # Signals: recorded by SignalInbox, acted on by the loop.

    def _act_on_signals(self) -> None:
        for number in self.signals.take():
            if number in STOPS:
                log.info("stopping", signal=signal.Signals(number).name)
                self.stopping = True
            elif number == signal.SIGHUP:
                self.reload()
            elif number == signal.SIGUSR1:
                self.sync_asked = True

    # Scheduling.

    def _guarded(self, name: str, task: Callable[[], object]) -> Callable[[], None]:
        def job() -> None:
            try:
                task()
            except StateStoreUnavailableError:
                raise
            except Exception:
                metrics.SCHEDULED_JOB_ERRORS.labels(name).inc()
                log.exception("scheduled job failed", job=name)

        return job

    def _schedule(self, settings: Settings) -> tuple[schedule.Scheduler, schedule.Job | None]:
        scheduler = schedule.Scheduler()
        interval = period(settings.sync.import_frequency)
        metrics.SYNC_INTERVAL.set(interval.total_seconds() if interval else 0)
        job = add_sync_job(scheduler, settings.sync, self._guarded("main_sync", lambda: self.sync_now("schedule")))
        scheduler.every().day.at(DAILY_PURGE_AT).do(
            self._guarded("purge_tracking", lambda: self._enqueue("purge_tracking", lambda: request_purge("daily")))
        )
        return scheduler, job

    def _enqueue(self, job: str, send: Callable[[], object]) -> None:
        """Queue a job's message; a broker that refuses is logged and counted, never raised into the loop."""
        try:
            send()
        except Exception as error:
            metrics.ENQUEUE_FAILURES.labels(job).inc()
            log.error("job could not be queued", job=job, error=str(error))
        finally:
            self.placement.close()

    def sync_now(self, trigger: str, *, full_pass: bool = False) -> None:
        """Start a main sync, or log the one in flight."""
        if not self.store.connection.connected():
            log.warning("not syncing: disconnected (run `cmsync connect`)", trigger=trigger)
            return
        try:
            start = request_run(self.store, trigger, full_pass=full_pass, owner=self.owner)
        except StateStoreUnavailableError:
            raise
        except Exception as error:
            metrics.ENQUEUE_FAILURES.labels("main_sync").inc()
            log.error("main sync could not be queued", trigger=trigger, error=str(error))
            return
        finally:
            self.placement.close()
        if start.started:
            log.info("main sync started", run_id=start.run.id, trigger=trigger)
        else:
            log.info("main sync already in flight", run_id=start.run.id, trigger=trigger)

    def _run_due_jobs(self) -> None:
        now = datetime.now()
        for job in self.scheduler.get_jobs():
            if job.should_run and job.next_run is not None:
                metrics.SCHEDULER_LAG.set(max(0.0, (now - job.next_run).total_seconds()))
        self.scheduler.run_pending()

    def _tend_runs(self) -> None:
        """Send runs left in the outbox (by ``cmsync sync-now``, or by a process that died before sending),
        close runs whose owner is gone, and keep the heartbeat of the run this process's workers run."""
        try:
            sent = tend_runs(self.store, self.owner, runs_workers=self.placement.in_process)
        except StateStoreUnavailableError:
            raise
        except Exception as error:
            metrics.ENQUEUE_FAILURES.labels("main_sync").inc()
            log.error("runs could not be tended", error=str(error))
            return
        if sent:
            self.placement.close()

    # Reload.

    def reload(self) -> None:
        """Re-read the file; swap the whole configuration in if it is valid, else keep the running one."""
        self.notifier.reloading()
        try:
            settings = self.adjust(load_settings(self.config_path))
            systems = Systems.from_settings(settings, self.store)
        except ConfigError as error:
            metrics.RELOADS.labels("refused").inc()
            metrics.RELOAD_SUCCESSFUL.set(0)
            for issue in error.issues:
                log.error("reload refused", source=error.source, setting=issue.path, error=issue.message)
            log.error("reload refused; the running configuration stays", errors=len(error.issues))
            self.notifier.ready("running; last reload refused")
            return
        changes = changed_settings(self.settings, settings)
        scheduler, job = self._schedule(settings)
        previous, previous_settings = self.systems, self.settings
        self.settings, self.systems, self.scheduler, self.sync_job = settings, systems, scheduler, job
        install(systems)
        previous.close()
        self.console.reload(settings)
        self._enqueue("purge_tracking", lambda: request_purge_after_reload(previous_settings, settings))
        configure_from(settings)
        metrics.RELOADS.labels("applied").inc()
        metrics.RELOAD_SUCCESSFUL.set(1)
        log.info("configuration reloaded", changed=changes, needs_restart=needs_restart(changes))
        self.notifier.ready("running; configuration reloaded")

    # Observation: what the state store says, for metrics, status and systemd.

    def _observe(self) -> None:
        connected = self.store.connection.connected()
        if connected != self.connected:
            self.connected = connected
            if connected:
                self.scheduler, self.sync_job = self._schedule(self.settings)
                log.info("connected: syncing resumes")
            else:
                self.scheduler.clear()
                self.sync_job = None
                self.placement.drop_held_messages()
                log.info("disconnected: scheduled jobs removed, queued messages purged")
        metrics.CONNECTED.set(1 if connected else 0)
        current = self.store.runs.current()
        metrics.RUN_IN_PROGRESS.set(1 if current else 0)
        last = self.store.runs.last()
        if last is not None and last.id != self.last_finished:
            if self.last_finished is not None:
                metrics.RUNS.labels(last.status).inc()
            self.last_finished = last.id
            if last.duration is not None:
                metrics.LAST_RUN_DURATION.set(last.duration.total_seconds())
        success = self.store.runs.last(("succeeded", "partial"))
        if success is not None and success.finished_at is not None:
            metrics.LAST_SUCCESS.set(success.finished_at.timestamp())
        upcoming = next_run(self.sync_job) if connected else None
        metrics.NEXT_RUN.set(upcoming.timestamp() if upcoming else 0)
        metrics.REJECTED_RECORDS.set(self.store.rejections.count())
        self.store.facts.schedule.set(
            {
                "frequency": self.settings.sync.import_frequency,
                "next_run": upcoming.isoformat() if upcoming else None,
            },
        )

    def health(self) -> tuple[bool, str]:
        """Healthy while the loop goes round; degraded (still 200: a restart cures no outage) while the
        state store is unavailable, with how long and why."""
        age = time.monotonic() - self.heartbeat
        if age >= 60:
            return False, f"stalled: loop went round {age:.1f}s ago"
        if self.store_outage.down:
            down = self.store_outage.seconds_down()
            return True, f"degraded: state store unavailable for {down:.0f}s ({self.store_outage.reason})"
        return True, f"ok: loop went round {age:.1f}s ago"

    def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is not None and time.monotonic() - self.last_watchdog >= interval.total_seconds():
            self.notifier.watchdog()
            self.last_watchdog = time.monotonic()

    def _sleep(self) -> None:
        if self.failed_attempts:
            pause = RETRY_SECONDS[min(self.failed_attempts, len(RETRY_SECONDS)) - 1]
            if self.notifier.watchdog_interval is not None:
                pause = min(pause, self.notifier.watchdog_interval.total_seconds())
            self.signals.wakeup.wait(pause)
            self.signals.wakeup.clear()
            return
        idle = self.scheduler.idle_seconds
        limit = 1.0
        if self.notifier.watchdog_interval is not None:
            limit = min(limit, self.notifier.watchdog_interval.total_seconds())
        self.signals.wakeup.wait(max(0.0, min(idle if idle is not None else limit, limit)))
        self.signals.wakeup.clear()

    # The loop.

    def _abandon_interrupted_run(self) -> None:
        """With the embedded broker a run in flight now was cut off, unless a live ``cmsync sync-now`` of this
        host runs it with workers of its own."""
        run = self.store.runs.current()
        if self.placement.in_process and run is not None and (run.owner is None or provably_dead(run.owner)):
            self.store.runs.finish(run.id, "cancelled", "interrupted: cmsync stopped before the run ended")
            log.warning("run from before the restart closed as interrupted", run_id=run.id)

    def _refuse_start(self) -> None:
        """Say which supervisor holds the lease, and until when."""
        held = self.store.leases.supervisor.held()
        if held is None:
            log.error("another cmsync supervisor holds this state store; not starting")
            return
        owner, until = held
        identity = ProcessIdentity.parse(owner)
        log.error(
            f"another cmsync supervisor holds this state store ({identity.describe() if identity else owner}) "
            f"until {until.isoformat(timespec='seconds')} unless it renews; not starting",
            holder=owner,
            expires_at=until.isoformat(timespec="seconds"),
        )

    def _go_round(self) -> bool:
        """One round of the loop's work on the state store; False when another supervisor took the lease
        (this one was cut off from the store longer than the lease lasts). A Sync Now asked for by signal
        is kept until the store takes it."""
        if self.sync_asked:
            self.sync_now("signal")
            self.sync_asked = False
        if self.store.connection.connected():
            self._run_due_jobs()
        self._tend_runs()
        self._observe()
        return self.store.leases.supervisor.take(self.owner, SUPERVISOR_LEASE_TTL)

    def _keep_threads_alive(self) -> None:
        if not self.outbound.alive:
            metrics.THREAD_RESTARTS.labels("outbound").inc()
            log.error("outbound thread ended; starting it again")
            self.outbound.start()

    def run(self, banner: str | Callable[[], str] | None = None) -> int:
        """Serve until SIGTERM or SIGINT; return the exit status. ``banner`` is printed once serving (a callable
        is asked then, so that it can say what is actually served)."""
        with ExitStack() as starting:
            try:
                if not self._start(starting):
                    return 1
            except StateStoreUnavailableError as error:
                log.error(f"not starting: {error}")
                return 1
            started = starting.pop_all()
        try:
            if banner:
                print(banner() if callable(banner) else banner, flush=True)
            log.info("cmsync is running", metrics=f"{self.metrics.url}/metrics", config=self.config_path)
            while not self.stopping:
                self._act_on_signals()
                if self.stopping:
                    break
                try:
                    leased = self._go_round()
                except StateStoreUnavailableError as error:
                    self.failed_attempts += 1
                    self.store_outage.failed(f"{error.where}: {error.reason}")
                else:
                    self.failed_attempts = 0
                    self.store_outage.succeeded()
                    if not leased:
                        log.error("another cmsync supervisor took the lease while this one was cut off; stopping",
                                  holder=self.store.leases.supervisor.holder())  # fmt: skip
                        return 1
                self._keep_threads_alive()
                self.heartbeat = time.monotonic()
                metrics.LOOP_HEARTBEAT.set(time.time())
                self._watchdog()
                self._sleep()
        finally:
            started.close()
            self.signals.report_ignored()
            log.info("stopped")
        return 0

    def _start(self, stack: ExitStack) -> bool:
        """Start every part in order, pushing how to stop each on ``stack`` (which stops them in reverse);
        False when this supervisor must not run (another one holds the lease, metrics cannot listen)."""
        self.store = StateStore.open(self.settings.state.url.get_secret_value())
        stack.callback(self.store.close)
        self.systems = Systems.from_settings(self.settings, self.store)
        install(self.systems)
        stack.callback(lambda: self.systems.close())  # the systems in force then: a reload swaps them
        self.connected = self.store.connection.connected()
        if not self._take_lease():
            return False
        stack.callback(self._while_store_answers, self._record_stop, "releasing the supervisor lease")
        try:
            self.metrics = MetricsServer(self.settings.metrics.listen, self.health).start()
        except OSError as error:
            log.error(
                "cannot serve metrics; choose another address with metrics.listen or cmsync run --metrics-listen",
                listen=self.settings.metrics.listen,
                error=error.strerror,
            )
            return False
        stack.callback(self.metrics.stop)
        self.console.start(self.settings)
        stack.callback(self.console.stop)
        self.signals.install()
        self._abandon_interrupted_run()
        if self.placement.start_workers():
            stack.callback(self._stop_workers)
        self.outbound.start()
        stack.callback(self.outbound.stop)
        stack.callback(lambda: self.scheduler.clear())  # the schedule in force then: a reload swaps it
        completed = self.store.runs.last(("succeeded", "partial", "failed"))
        last_started = completed.started_at if completed else None
        if self.connected and missed_run(self.sync_job, self.settings.sync.import_frequency, last_started):
            self.sync_now("schedule")
        self.notifier.ready("running")
        stack.callback(self.notifier.stopping)
        return True

    def _take_lease(self) -> bool:
        """Take the supervisor lease (at once from a supervisor of this host that is gone), or say who holds it."""
        previous = self.store.leases.supervisor.held()
        if not self.store.leases.supervisor.take(self.owner, SUPERVISOR_LEASE_TTL, holder_gone=provably_dead):
            self._refuse_start()
            return False
        if previous is not None and previous[0] != self.owner:
            log.warning("took over the lease of a supervisor that is no longer running", previous=previous[0])
        return True

    # Stopping: each part's stop, run in reverse of the start by the stack ``run`` keeps.

    def _stop_workers(self) -> None:
        """Close the run in flight, then let the workers reach a safe point (bounded)."""
        self._while_store_answers(self._close_interrupted_run, "closing the run in flight")
        self.placement.stop_workers(timeout_ms=SHUTDOWN_SECONDS * 1000)

    def _close_interrupted_run(self) -> None:
        run = self.store.runs.current()
        if run is not None:
            self.store.runs.finish(run.id, "cancelled", "interrupted: cmsync was stopped; the next run resumes")

    def _record_stop(self) -> None:
        self.store.facts.schedule.set({"frequency": self.settings.sync.import_frequency, "next_run": None})
        self.store.leases.supervisor.release(self.owner)

    def _while_store_answers(self, step: Callable[[], None], what: str) -> None:
        """A shutdown step on the state store; during an outage it is skipped with a warning, so stopping
        still ends (the lease then expires by itself, and the next start closes the run)."""
        try:
            step()
        except StateStoreUnavailableError as error:
            log.warning(f"stopping without {what}: the state store is unavailable", reason=error.reason)
