/** How often a worker pool records that it is alive, unless configured (s). */
export const defaultHeartbeatSeconds = 10;
/** A pool silent this long is taken as dead and its jobs are released, unless configured (s). */
export const defaultDeadAfterSeconds = 90;
