import onnxProto from 'onnx-proto';
import { AppError, errorMessage } from '../../core/errors';

const { onnx } = onnxProto;

/** Largest ONNX file accepted unless configured otherwise (CONTOURBENCH_MAX_MODEL_MB). */
export const DEFAULT_MAX_MODEL_BYTES = 1024 * 1024 * 1024;

/**
 * Checks that bytes are an ONNX model worth handing to onnxruntime, before its native code parses them:
 * at most `maxBytes`, a ModelProto that decodes (protobuf wire format), with an IR version, an operator
 * set, and a graph with nodes, inputs and outputs. Every failure is INVALID_INPUT naming `source` and
 * what is wrong.
 */
export function checkOnnxFile(bytes: Uint8Array, source: string, maxBytes = DEFAULT_MAX_MODEL_BYTES): void {
  const refuse = (problem: string): never => {
    throw new AppError('INVALID_INPUT', `${source}: ${problem}`);
  };
  if (bytes.length > maxBytes) {
    refuse(
      `the model file has ${bytes.length} bytes, more than the limit of ${maxBytes} (CONTOURBENCH_MAX_MODEL_MB)`,
    );
  }
  if (bytes.length === 0) refuse('the model file is empty');
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    return refuse(`not an ONNX model (the protobuf does not decode: ${errorMessage(error)})`);
  }
  const irVersion = Number(model.irVersion ?? 0);
  if (!(irVersion > 0)) refuse('not an ONNX model (no IR version)');
  if (!model.opsetImport?.length) refuse('not an ONNX model (no operator set)');
  const graph = model.graph;
  if (!graph) return refuse('not an ONNX model (no graph)');
  if (!graph.node?.length) refuse('the ONNX graph has no nodes');
  if (!graph.input?.length) refuse('the ONNX graph has no inputs');
  if (!graph.output?.length) refuse('the ONNX graph has no outputs');
}
