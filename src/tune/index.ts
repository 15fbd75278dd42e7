/** On-device auto-tuning: measure kernel candidates per step, keep the winners in a tuning database. */
export { type TuneOptions, type TuneReport, type TunedStep, databaseChooser, tuneCompile } from './tune.js';
export {
  type TuningDb,
  type TuningRecord,
  type KeyValueStorage,
  defaultTuningDbPath,
  fileTuningDb,
  memoryTuningDb,
  openTuningDb,
  storageTuningDb,
} from './db.js';
export { type DeviceFingerprint, EDGECNN_VERSION, deviceFingerprint } from './device.js';
export { type CandidateTiming, measureCandidates } from './measure.js';
