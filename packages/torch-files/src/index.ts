/**
 * @artist-ts/torch-files: PyTorch's file formats without Python and without tfjs. Reads torch.save
 * zip files, legacy torch files and safetensors (a restricted unpickler, lazy tensors); writes
 * torch.save zip files and safetensors (streamed, atomic).
 */
export { type ByteSource, FileSource, MemorySource } from './byte_source';
export { ForbiddenGlobalError, TorchFileError } from './errors';
export { floatToBfloat16, floatToHalf, halfToFloat } from './half';
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
export { PersistentId, PickleWriter } from './pickle_writer';
export {
  encodeSafetensors,
  parseSafetensors,
  type SafetensorsEntry,
  writeSafetensors,
} from './safetensors';
export {
  DTYPE_SIZE,
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
export {
  encodeTorchFile,
  type TorchValue,
  type WriteTorchOptions,
  writeTorchFile,
} from './torch_writer';
export {
  type ByteChunks,
  type TensorSpec,
  type TensorValues,
  type WritableDType,
  WritableTensor,
} from './writable_tensor';
