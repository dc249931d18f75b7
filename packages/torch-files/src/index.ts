/**
 * @artist-ts/torch-files: PyTorch's file formats without Python and without tfjs. torch.save zip
 * files, legacy torch files and safetensors; a restricted unpickler; lazy tensors.
 */
export { type ByteSource, FileSource, MemorySource } from './byte_source';
export { ForbiddenGlobalError, TorchFileError } from './errors';
export { DEFAULT_READER_OPTIONS, type ReaderOptions, validateReaderOptions } from './limits';
export {
  describe,
  PyDict,
  PyGlobal,
  PyObject,
  PySet,
  PyTuple,
  type UnpickleContext,
  unpickle,
} from './pickle';
export {
  encodeSafetensors,
  floatToBfloat16,
  floatToHalf,
  parseSafetensors,
  type SafetensorsEntry,
  writeSafetensors,
} from './safetensors';
export {
  DTYPE_SIZE,
  halfToFloat,
  isFloatDType,
  type TorchDType,
  type TorchStorage,
  TorchTensor,
} from './tensor';
export {
  type CheckpointFormat,
  type CheckpointSummary,
  inspectCheckpoint,
  loadStateDict,
  readTorchFile,
  type StateDict,
  stateDictOf,
  type TorchFile,
} from './torch_file';
export { makeGlobalResolver, STORAGE_TYPES } from './torch_globals';
