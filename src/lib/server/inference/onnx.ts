import * as ort from 'onnxruntime-node';
import { AppError, errorMessage } from '../../core/errors';
import type { GraphSignature, TensorSignature } from '../../core/models/model-io';

/** A float32 tensor in row-major order. */
export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface OnnxSessionOptions {
  /** Threads inside one operator; 0 lets onnxruntime choose (all cores). */
  intraOpThreads?: number;
}

/**
 * One loaded ONNX graph on the CPU execution provider. Everything outside this file sees only
 * float32 arrays and shapes, so pre- and post-processing stay pure and testable without onnxruntime.
 */
export class OnnxSession {
  private released = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly source: string,
  ) {}

  /** Loads a model from its bytes; a file onnxruntime cannot load is INVALID_INPUT naming the source. */
  static async load(
    bytes: Uint8Array,
    source: string,
    options: OnnxSessionOptions = {},
  ): Promise<OnnxSession> {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.intraOpThreads ?? 0,
        interOpNumThreads: 1,
        logSeverityLevel: 3,
      });
      return new OnnxSession(session, source);
    } catch (error) {
      throw new AppError(
        'INVALID_INPUT',
        `${source}: onnxruntime cannot load the model: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** The graph's declared inputs and outputs. */
  signature(): GraphSignature {
    const describe = (metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] =>
      metadata.map((m) =>
        m.isTensor
          ? { name: m.name, elementType: m.type, shape: m.shape.length === 0 ? [] : [...m.shape] }
          : { name: m.name, elementType: 'non-tensor', shape: [] },
      );
    return { inputs: describe(this.session.inputMetadata), outputs: describe(this.session.outputMetadata) };
  }

  /** Runs the graph on one input and returns one output. */
  async run(inputName: string, input: FloatTensor, outputName: string): Promise<FloatTensor> {
    const [output] = await this.runOutputs(inputName, input, [outputName]);
    return output!;
  }

  /** Runs the graph on one input and returns the named outputs, in the order asked. */
  async runOutputs(
    inputName: string,
    input: FloatTensor,
    outputNames: readonly string[],
  ): Promise<FloatTensor[]> {
    if (this.released) throw new AppError('INTERNAL', `${this.source}: session already released`);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      const tensor = new ort.Tensor('float32', input.data, input.dims);
      result = await this.session.run({ [inputName]: tensor }, [...outputNames]);
    } catch (error) {
      throw new AppError('WORKER_FAILED', `${this.source}: inference failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return outputNames.map((outputName) => {
      const output = result[outputName];
      if (output === undefined || !(output instanceof ort.Tensor) || output.type !== 'float32')
        throw new AppError(
          'WORKER_FAILED',
          `${this.source}: output "${outputName}" is ${output === undefined ? 'missing' : `of type ${(output as ort.Tensor).type}`}, not a float32 tensor`,
        );
      return { data: output.data as Float32Array, dims: [...output.dims] };
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
