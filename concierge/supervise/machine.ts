import { REBOOT, isSysError, sys } from '../sys/index.js';
import { log } from '../log/logger.js';

/**
 * Turns Ctrl-Alt-Del into a SIGINT for PID 1 (instead of an immediate reboot by the kernel), and
 * tells from the answer whether this is the machine's init: the kernel accepts the call only from
 * the initial pid namespace (a pid namespace's init gets EINVAL), so it works before /proc exists.
 * Only the machine's init ends in reboot(2); PID 1 of a test's pid namespace exits with its code
 * instead, and CONCIERGE_NOT_MACHINE_INIT=1 forces that too.
 */
export function disableCtrlAltDelAndCheckMachineInit(): boolean {
  if (process.pid !== 1) return false;
  try {
    sys.reboot(REBOOT.CAD_OFF);
  } catch (err) {
    if (!isSysError(err, 'EINVAL')) throw err;
    log.info('PID 1 of a pid namespace, not of the machine: the end will be an exit, not a power-off');
    return false;
  }
  return process.env.CONCIERGE_NOT_MACHINE_INIT !== '1';
}
