/**
 * Result codes of the typed operations (restart, rollback, verify, compose, checks): each is said
 * by the core's catalogue as `result.<code>` (src/core/i18n/ops.en.ts). A comment names each
 * code's parameters; a parameter ending in `Ms` is a duration in milliseconds.
 *
 * A phase whose line holds a phrase of its own (what a check saw, why a program failed) is said
 * in parts: its own code, then the phrase's. Descriptions (`describe.*`) hold their follow-ups
 * as a flag (1: the text names it, 0: not) and values that read the same in every language.
 */
export const OPS_RESULT_CODES = [
  // The value of an `expect:` check's finding (src/runbooks/actions/checks.ts); {bounds}: "≤ 85", "≥ 10, ≤ 90".
  /** ❌ no value found in the output ({bounds}). */
  'checkValue.missing',
  /** ❌ {lines}: up to three "value `line`" outside {bounds}. */
  'checkValue.outside',
  /** ❌ {lines} and {more} more outside {bounds}. */
  'checkValue.outsideMore',
  /** ✅ {value}, within {bounds}. */
  'checkValue.within',
  /** ✅ the highest of {count} values, {value}, within {bounds}. */
  'checkValue.highest',
  /** ✅ the lowest of {count} values, {value}, within {bounds}. */
  'checkValue.lowest',
  /** ✅ no line matches. */
  'checkValue.none',
  /** ❌ {count} lines match. */
  'checkValue.found',
  /** ❌ {count} lines match, the last {last}. */
  'checkValue.foundLast',
  /** ❌ no line matches (one was required). */
  'checkValue.absent',
  /** (no values). */
  'ops.refused',
  /** (no values). */
  'ops.notChecked',
  /** (no values). */
  'ops.port',
  /** {field}: the input's name in the manifest; {value}: its value, quoted. */
  'ops.dash',
  /** {field}: the input's name; {value}: its value, quoted. */
  'ops.invalid',
  /** {argv}: the program, quoted; {tookMs}. */
  'program.ran',
  /** {argv}: the program, quoted. */
  'program.ranFailed',
  /** (no values). */
  'program.failed',
  /** {program}; {afterMs}: its time limit. */
  'program.timedOut',
  /** {program}; {afterMs}. */
  'program.cancelled',
  /** {program}, quoted; {error}: a system error code. */
  'program.notStarted',
  /** {program}; {mib}. */
  'program.tooLarge',
  /** {program}; {signal}. */
  'program.killed',
  /** {program}; {code}: its exit code. */
  'program.exited',
  /** {line}: the line of the program's output that says why (its own words). */
  'program.reason',
  /** {argv}, quoted; {tookMs}. */
  'restart.command',
  /** {argv}, quoted. */
  'restart.commandFailed',
  /** {unit}; {tookMs}. */
  'restart.systemd',
  /** {afterMs}: the wait until it was active. */
  'restart.active',
  /** {state}: the unit's state as systemd says it. */
  'restart.unitState',
  /** {unit} (the state that follows says why). */
  'restart.unitDown',
  /** {unit}; {seconds}: the wait allowed. */
  'restart.notActive',
  /** {service}; {tookMs}. */
  'restart.compose',
  /** {service}; {tookMs}: rebuilt its image and recreated its container (`up -d --build`). */
  'restart.compose.rebuilt',
  /** {deployment}; {namespace}; {tookMs}. */
  'restart.kubernetes',
  /** {tookMs}. */
  'restart.rolledOut',
  /** {deployment}; {seconds}. */
  'restart.rolloutFailed',
  /** {link}; {from}, {to}: the link's text before and after. */
  'rollback.switched',
  /** {link}; {error}: the system's message. */
  'rollback.switchFailed',
  /** {link}; {now}: what it points to now. */
  'rollback.changed',
  /** (no values). */
  'rollback.notSwitched',
  /** {argv}, quoted; {tookMs}. */
  'rollback.command',
  /** {argv}, quoted. */
  'rollback.commandFailed',
  /** {argv}, quoted; {dir}; {tookMs}. */
  'rollback.commandIn',
  /** {argv}, quoted; {dir}. */
  'rollback.commandInFailed',
  /** (no values; the restore's own parts follow). */
  'rollback.restore',
  /** (no values). */
  'rollback.keptSymlink',
  /** (no values). */
  'rollback.keptCommand',
  /** {release}, quoted; {releases}: those there are. */
  'rollback.noSuchRelease',
  /** {release}. */
  'rollback.alreadyCurrent',
  /** (no values). */
  'rollback.notARelease',
  /** {release}: the current one; {releases}. */
  'rollback.nothingBefore',
  /** {field}: current or releasesDir; {value}, quoted. */
  'rollback.notAbsolute',
  /** {value}, quoted. */
  'rollback.toNotName',
  /** {path}. */
  'rollback.notSymlink',
  /** {path}; {error}: a system error code. */
  'rollback.unreadable',
  /** (no values; the reason follows). */
  'verify.refused',
  /** (no values; what was seen follows). */
  'verify.healthyFirst',
  /** {attempts}; {tookMs}. */
  'verify.healthy',
  /** {attempts}. */
  'verify.fatal',
  /** {attempts}; {tookMs}. */
  'verify.cancelled',
  /** {attempts}; {seconds}: the wait asked for. */
  'verify.notHealthy',
  /** {attempts}; {allowedMs}: what was left of the step's timeout. */
  'verify.notHealthyStep',
  /** {status}. */
  'verify.http',
  /** {status}; {expected}: the statuses expected. */
  'verify.httpStatus',
  /** {status}; {wanted}, quoted. */
  'verify.httpBody',
  /** {withinMs}: the attempt's time limit. */
  'verify.noAnswer',
  /** (no values). */
  'verify.requestCancelled',
  /** {error}: a system error code. */
  'verify.requestFailed',
  /** {answer}: what SELECT 1 returned. */
  'verify.sqlAnswer',
  /** {count}. */
  'verify.promSeries',
  /** {count}; {first}: the first series' labels. */
  'verify.promSeriesFirst',
  /** {status}. */
  'verify.promNotApi',
  /** {status}; {errorType}; {error}: Prometheus' own message. */
  'verify.promError',
  /** {mib}. */
  'verify.promTooLarge',
  /** {resultType}: the type Prometheus returned. */
  'verify.promNotSeries',
  /** {url}, quoted. */
  'verify.badUrl',
  /** (no values). */
  'verify.noPrometheus',
  /** {path}, quoted. */
  'verify.sqlitePath',
  /** (no values). */
  'compose.fileDash',
  /** (no values). */
  'compose.noDir',
  /** {dir}. */
  'compose.noProjectDir',
  /** {tried}: each program tried and why it did not work. */
  'compose.noProgram',
  /** (no values). */
  'compose.downService',
  /** {argv}, quoted. */
  'compose.unreadable',
  /** (no values). */
  'compose.unreadableStates',
  /** {service}. */
  'compose.noContainers',
  /** (no values). */
  'compose.noContainersAll',
  /** {states}: each container and its state, as Docker says it. */
  'compose.states',
  /** {count}; {states}. */
  'compose.ps',
  /** (no values). */
  'compose.psNone',
  /** {afterMs}; {checks}: how many times the states were read. */
  'compose.running',
  /** {service} (the states follow). */
  'compose.stopped',
  /** (no values; the states follow). */
  'compose.stoppedAll',
  /** (no values; the states follow). */
  'compose.downAll',
  /** {service}; {seconds}. */
  'compose.stillRunning',
  /** {seconds}. */
  'compose.stillRunningAll',
  /** {service} (why follows). */
  'compose.statesUnread',
  /** (no values; why follows). */
  'compose.statesUnreadAll',
  /** {service}; {seconds}. */
  'compose.notRunning',
  /** {seconds}. */
  'compose.notRunningAll',
  /** {code}; {tookMs}. */
  'check.exit',
  /** {name}: the expectation's label. */
  'check.notFound',
  /** {name}; {values}: those out of bounds; {bounds}: "≤ 85", "≥ 10, ≤ 90". */
  'check.outside',
  /** {name}; {count}: how many lines matched. */
  'check.found',
  /** {url}; {expected}: the statuses; {interval}, {within}: seconds. */
  'describe.verify.http',
  /** {url}; {expected}; {wanted}, quoted; {interval}, {within}: seconds. */
  'describe.verify.httpBody',
  /** {engine}: sqlite, postgres or mysql; {target}: the file or user@host:port/database; {interval}, {within}. */
  'describe.verify.sql',
  /** {url}: Prometheus, or PROMETHEUS_URL; {query}, quoted; {interval}, {within}. */
  'describe.verify.prometheusEmpty',
  /** {url}; {query}, quoted; {interval}, {within}. */
  'describe.verify.prometheusSeries',
  /** {unit}; {within}: seconds; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.restart.systemd',
  /** {service}; {target}: the project directory, -f file, -p name; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.restart.compose',
  /** The same params as describe.restart.compose, for a rebuild (`up -d --build`). */
  'describe.restart.compose.rebuild',
  /** {deployment}; {namespace}; {inContext}: 1 when {context} is given; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.restart.kubernetes',
  /** {argv}, quoted; {inDir}: 1 when {dir} is given; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.restart.command',
  /** {link}; {from}, {to}: the link's text now and after; {restore}, {restart}, {verify}: 1 when that follow-up is given, {restoreFrom}, {restartWhat}, {check} and {checkWithin} its values (else empty). */
  'describe.rollback.symlink',
  /** {link}; {named}: 1 when {to} names the release (else: the one before the current one); {dir}: the releases; {problem}: why not (the action's English line, a value here); {restore}, {restart}, {verify}: 1 when that follow-up is given, {restoreFrom}, {restartWhat}, {check} and {checkWithin} its values (else empty). */
  'describe.rollback.impossible',
  /** {argv}, quoted; {inDir}: 1 when {dir} is given; {restore}, {restart}, {verify}: 1 when that follow-up is given, {restoreFrom}, {restartWhat}, {check} and {checkWithin} its values (else empty). */
  'describe.rollback.command',
  /** {service}; {target}. */
  'describe.compose.ps',
  /** {target}. */
  'describe.compose.psAll',
  /** {service}; {target}; {tail}: lines. */
  'describe.compose.logs',
  /** {target}; {tail}. */
  'describe.compose.logsAll',
  /** {service}; {target}; {within}. */
  'describe.compose.stop',
  /** {target}; {within}. */
  'describe.compose.stopAll',
  /** {target}; {within}. */
  'describe.compose.down',
  /** {service}; {target}; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.compose.start',
  /** {target}; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.compose.startAll',
  /** {service}; {target}; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.compose.up',
  /** {target}; {within}; {verify}: 1 when a check follows, {check} and {checkWithin} (seconds) its values, else empty. */
  'describe.compose.upAll',
  /** {argv}, quoted; {service}; {target}. */
  'describe.compose.exec',
] as const;
