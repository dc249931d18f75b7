import { TrainingInterruptedError, validateTrainLoopOptions } from '../src/train_loop';

describe('validateTrainLoopOptions', () => {
  it('accepts the shared options', () => {
    const o = { steps: 10, checkpointDir: '/tmp/x', checkpointEvery: 5, keepLast: 2 };
    expect(validateTrainLoopOptions(o)).toBe(o);
  });
  it('names the bad field', () => {
    expect(() => validateTrainLoopOptions({ steps: -1 }, 'GptTrainer.fit')).toThrow(
      /GptTrainer\.fit: 'steps'/,
    );
    expect(() => validateTrainLoopOptions({ keepLast: 0 })).toThrow(/'keepLast'/);
    expect(() => validateTrainLoopOptions({ checkpointEvery: 3 })).toThrow(/needs 'checkpointDir'/);
  });
  it('the interruption error says how to go on', () => {
    expect(new TrainingInterruptedError('gpt').message).toBe(
      'gpt stopped: run the same command again to continue',
    );
  });
});
