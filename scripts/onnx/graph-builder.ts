import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

export type Dim = number | string;
/** A number is an INT attribute when it is an integer; wrap floats that happen to be whole as { float: 1 }. */
export type AttributeValue = number | string | readonly number[] | Float32Array | { float: number };

/**
 * A small, explicit ONNX graph builder over onnx-proto: named tensors, float32 initialisers, operators
 * with typed attributes, and a model with opset 17. Node names are generated in order, so the same calls
 * produce the same bytes.
 */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  input(name: string, shape: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, shape));
    return name;
  }

  output(name: string, shape: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, shape));
  }

  /** A float32 constant tensor. */
  constant(values: Float32Array | readonly number[], dims: readonly number[], prefix = 'const'): string {
    const name = this.fresh(prefix);
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected)
      throw new Error(
        `${this.name}: constant ${name} has ${data.length} values for dims [${dims.join(', ')}]`,
      );
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dataType: DataType.FLOAT,
        dims: [...dims],
        rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
      }),
    );
    return name;
  }

  /** An int64 constant tensor (shapes, axes, pads); bigint for values beyond 2^53 (INT64_MAX ends). */
  int64(values: ReadonlyArray<number | bigint>, prefix = 'shape'): string {
    return this.int64Tensor(values, [values.length], prefix);
  }

  /** A 0-dimensional int64 constant (CumSum's axis, Range's bounds, a Gather index). */
  int64scalar(value: number, prefix = 'scalar'): string {
    return this.int64Tensor([value], [], prefix);
  }

  private int64Tensor(values: ReadonlyArray<number | bigint>, dims: number[], prefix: string): string {
    const name = this.fresh(prefix);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dataType: DataType.INT64,
        dims,
        rawData: new Uint8Array(data.buffer),
      }),
    );
    return name;
  }

  /** Adds one operator and returns its output names (one per `outputs`). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputs = 1,
  ): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push(
      onnx.NodeProto.create({
        name: this.fresh(`${opType}_node`),
        opType,
        input: [...inputs],
        output: names,
        attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
      }),
    );
    return names;
  }

  /** Adds one operator with a single output. */
  op1(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}): string {
    const [out] = this.op(opType, inputs, attributes, 1);
    return out as string;
  }

  /** Renames a tensor by an Identity node (graph outputs need fixed names). */
  identity(input: string, name: string): string {
    this.nodes.push(
      onnx.NodeProto.create({
        name: this.fresh('Identity_node'),
        opType: 'Identity',
        input: [input],
        output: [name],
      }),
    );
    return name;
  }

  /** The serialised model. */
  encode(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'contourbench',
      producerVersion: '1',
      docString,
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, shape: readonly Dim[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

function attribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  if (typeof value === 'string')
    return onnx.AttributeProto.create({
      name,
      type: AttributeType.STRING,
      s: new TextEncoder().encode(value),
    });
  if (typeof value === 'object' && 'float' in value)
    return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
  if (typeof value === 'number')
    return Number.isInteger(value) && !Object.is(value, -0)
      ? onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value })
      : onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
  if (value instanceof Float32Array)
    return onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: [...value] });
  return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: [...value] });
}
