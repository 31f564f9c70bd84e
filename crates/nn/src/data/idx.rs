//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, an element
//! type, a dimension count, one u32 per dimension) followed by the elements, row-major, either
//! raw or gzip-compressed.

use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tensor_core::{Device, Tensor};

use super::{file_error, io_error};
use crate::{NnError, Result};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The element-type code of unsigned bytes, the only type MNIST-style files use.
const UNSIGNED_BYTE: u8 = 0x08;

/// What an IDX file should hold: a name for messages and the dimension count its magic carries.
#[derive(Clone, Copy)]
struct IdxKind {
    name: &'static str,
    rank: u8,
}

impl IdxKind {
    const IMAGES: IdxKind = IdxKind { name: "image", rank: 3 };
    const LABELS: IdxKind = IdxKind { name: "label", rank: 1 };

    /// The magic number: 0x0000_0803 for images, 0x0000_0801 for labels.
    fn magic(self) -> u32 {
        u32::from(UNSIGNED_BYTE) << 8 | u32::from(self.rank)
    }

    fn header_len(self) -> usize {
        4 + 4 * usize::from(self.rank)
    }
}

/// Greyscale images from an IDX file: `n` images of `rows` x `cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    /// `n * rows * cols` pixel values, 0 (background) to 255.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// The images as an f32 tensor of shape `[n, rows, cols, 1]` (channels last, as Keras),
    /// with the raw pixel values 0..=255; scale them with [`super::MinMaxScaler`].
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        let values = widened(&self.pixels, 1.0)?;
        Ok(Tensor::from_vec(values, [self.n, self.rows, self.cols, 1], device)?)
    }
}

/// `pixels` as f32 divided by `scale`, in a buffer reserved fallibly: four times the bytes.
fn widened(pixels: &[u8], scale: f32) -> Result<Vec<f32>> {
    let what = format_args!("{} pixels as f32", pixels.len());
    let mut values = tensor_core::cpu::host_vec("to_tensor", &what, pixels.len())?;
    values.extend(pixels.iter().map(|&p| f32::from(p) / scale));
    Ok(values)
}

/// Reads an IDX image file (magic 0x00000803: unsigned bytes, `[n, rows, cols]`), raw or
/// gzip-compressed (recognised by its content, whatever the file is called).
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, IdxKind::IMAGES)?;
    Ok(IdxImages { n: dims[0], rows: dims[1], cols: dims[2], pixels })
}

/// Reads an IDX label file (magic 0x00000801: unsigned bytes, `[n]`), raw or gzip-compressed.
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let (_, labels) = read_idx(path.as_ref(), IdxKind::LABELS)?;
    Ok(labels)
}

/// Reads and checks an IDX file of `kind`; returns its dimensions and elements. The header is
/// read and checked first, against what the file can hold; then exactly the bytes it declares
/// are read (decompressed), so a lying header or a gzip bomb costs no more memory than the
/// header declares, and that only once it is known the file can hold it.
fn read_idx(path: &Path, kind: IdxKind) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let file_len = file.metadata().map_err(|e| io_error(path, e))?.len();
    if file_len == 0 {
        return Err(file_error(path, "the file is empty"));
    }
    let start = read_at_most(&mut file, GZIP_MAGIC.len()).map_err(|e| io_error(path, e))?;
    file.rewind().map_err(|e| io_error(path, e))?;
    if start == GZIP_MAGIC {
        let stream = MultiGzDecoder::new(BufReader::new(file));
        read_body(path, kind, stream, Source::Gzip { compressed: file_len })
    } else {
        read_body(path, kind, BufReader::new(file), Source::Raw { len: file_len })
    }
}

/// The bytes an IDX stream comes from, and so how much it can hold.
#[derive(Clone, Copy)]
enum Source {
    /// The file's own bytes: exactly `len` of them.
    Raw { len: u64 },
    /// A gzip stream of `compressed` bytes in the file.
    Gzip { compressed: u64 },
}

/// The most bytes deflate can expand one byte of compressed data to (a run of 258 repeated
/// bytes coded in about two bits gives 1032).
const DEFLATE_MAX_RATIO: u64 = 1032;

/// How many bytes past the declared data are decompressed to say how many there are; beyond
/// it the message says "at least", so that a gzip bomb after a valid file costs little time.
const TRAILING_COUNT_LIMIT: u64 = 1 << 20;

impl Source {
    /// "bytes", or for a gzip stream "decompressed bytes": sizes in messages count
    /// decompressed bytes for a gzip file, and saying so keeps them from being compared with
    /// the size on disk.
    fn unit(self) -> &'static str {
        match self {
            Source::Raw { .. } => "bytes",
            Source::Gzip { .. } => "decompressed bytes",
        }
    }

    /// An error reading the stream: an I/O error, or for a gzip stream one that says the data is
    /// corrupt or cut short (flate2 reports both as read errors).
    fn read_error(self, path: &Path, e: std::io::Error) -> NnError {
        match self {
            Source::Raw { .. } => io_error(path, e),
            Source::Gzip { .. } => io_error(path, format!("corrupt or truncated gzip data: {e}")),
        }
    }
}

/// Reads the header from `stream`, checks it against what `source` can hold, then reads exactly
/// the data it declares and makes sure nothing follows.
fn read_body(
    path: &Path,
    kind: IdxKind,
    mut stream: impl Read,
    source: Source,
) -> Result<(Vec<usize>, Vec<u8>)> {
    let header = read_at_most(&mut stream, kind.header_len()).map_err(|e| source.read_error(path, e))?;
    let (dims, data_len) = parse_header(&header, kind).map_err(|detail| file_error(path, detail))?;
    let unit = source.unit();
    let truncated = |found: String| {
        file_error(
            path,
            format!(
                "truncated data: dimensions {} need {data_len} bytes after the header, only {found} {unit} \
                 follow it",
                format_dims(&dims)
            ),
        )
    };
    let unexpected = |extra: String| {
        file_error(
            path,
            format!(
                "{extra} unexpected {unit} after the {data_len} that dimensions {} need",
                format_dims(&dims)
            ),
        )
    };
    let wanted = data_len as u64;
    match source {
        Source::Raw { len } => {
            let follow = len.saturating_sub(kind.header_len() as u64);
            if follow < wanted {
                return Err(truncated(follow.to_string()));
            }
            if follow > wanted {
                return Err(unexpected((follow - wanted).to_string()));
            }
        }
        Source::Gzip { compressed } => {
            let most = compressed.saturating_mul(DEFLATE_MAX_RATIO).saturating_sub(kind.header_len() as u64);
            if wanted > most {
                return Err(truncated(format!(
                    "at most {most} (what {compressed} bytes of gzip data can hold)"
                )));
            }
        }
    }
    let what = format_args!("the data of dimensions {}", format_dims(&dims));
    let mut data =
        tensor_core::cpu::host_vec::<u8>("read_idx", &what, data_len).map_err(|e| file_error(path, e))?;
    (&mut stream).take(wanted).read_to_end(&mut data).map_err(|e| source.read_error(path, e))?;
    if data.len() < data_len {
        return Err(truncated(data.len().to_string()));
    }
    let extra = std::io::copy(&mut stream.take(TRAILING_COUNT_LIMIT), &mut std::io::sink())
        .map_err(|e| source.read_error(path, e))?;
    match extra {
        0 => Ok((dims, data)),
        TRAILING_COUNT_LIMIT => Err(unexpected(format!("at least {extra}"))),
        _ => Err(unexpected(extra.to_string())),
    }
}

/// Up to `limit` bytes from the start of `stream`: fewer only where the stream ends sooner.
fn read_at_most(stream: &mut impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(limit);
    stream.take(limit as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Checks the magic number and reads the dimensions; returns them and the element count.
fn parse_header(content: &[u8], kind: IdxKind) -> std::result::Result<(Vec<usize>, usize), String> {
    let Some(magic) = content.first_chunk::<4>().map(|b| u32::from_be_bytes(*b)) else {
        return Err(format!("truncated header: {} bytes, too short for an IDX magic number", content.len()));
    };
    if magic != kind.magic() {
        return Err(format!(
            "magic number 0x{magic:08x} ({}); an IDX {} file starts with 0x{:08x}",
            describe_magic(magic),
            kind.name,
            kind.magic()
        ));
    }
    let header = content.get(4..kind.header_len()).ok_or_else(|| {
        format!(
            "truncated header: {} bytes, an IDX {} header takes {}",
            content.len(),
            kind.name,
            kind.header_len()
        )
    })?;
    let dims: Vec<usize> =
        header.chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        format!("dimensions {} hold more elements than memory can address", format_dims(&dims))
    })?;
    Ok((dims, count))
}

/// What a wrong magic number says about the file, to tell a mixed-up path from a corrupt file.
fn describe_magic(magic: u32) -> String {
    let [zero_hi, zero_lo, element_type, rank] = magic.to_be_bytes();
    if (zero_hi, zero_lo) != (0, 0) {
        format!("not an IDX file: it starts with bytes {}", hex_bytes(&magic.to_be_bytes()))
    } else if element_type != UNSIGNED_BYTE {
        format!(
            "element type 0x{element_type:02x}; only unsigned bytes, 0x{UNSIGNED_BYTE:02x}, are supported"
        )
    } else if magic == IdxKind::IMAGES.magic() {
        "that of an IDX image file".to_string()
    } else if magic == IdxKind::LABELS.magic() {
        "that of an IDX label file".to_string()
    } else {
        format!("{rank} dimensions")
    }
}

fn format_dims(dims: &[usize]) -> String {
    dims.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Images and their labels, one label per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledImages {
    pub images: IdxImages,
    /// The class index of each image.
    pub labels: Vec<u8>,
}

impl LabelledImages {
    /// The first `n` images and their labels (all of them when there are fewer).
    pub fn first(&self, n: usize) -> LabelledImages {
        let n = n.min(self.images.n);
        let pixels_per_image = self.images.rows * self.images.cols;
        LabelledImages {
            images: IdxImages {
                n,
                pixels: self.images.pixels[..n * pixels_per_image].to_vec(),
                ..self.images
            },
            labels: self.labels[..n].to_vec(),
        }
    }

    /// The images whose label is one of `classes`, in their order, relabelled by position in
    /// `classes` (so `select_classes(&[5, 7])` makes class 5 label 0 and class 7 label 1): a
    /// sub-task of the data set, such as a new task for transfer learning.
    pub fn select_classes(&self, classes: &[u8]) -> LabelledImages {
        let per_image = self.images.rows * self.images.cols;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (i, &label) in self.labels.iter().enumerate() {
            if let Some(new_label) = classes.iter().position(|&c| c == label) {
                pixels.extend_from_slice(&self.images.pixels[i * per_image..(i + 1) * per_image]);
                labels.push(new_label as u8);
            }
        }
        LabelledImages { images: IdxImages { n: labels.len(), pixels, ..self.images }, labels }
    }

    /// The images with pixels scaled to [0, 1], shape `[n, rows, cols, 1]`, and the labels as
    /// class ids (for sparse categorical cross-entropy), both on `device`.
    pub fn to_scaled_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let values = widened(&self.images.pixels, 255.0)?;
        let x = Tensor::from_vec(values, [self.images.n, self.images.rows, self.images.cols, 1], device)?;
        Ok((x, super::labels_to_tensor(&self.labels, device)?))
    }
}

/// The training and test parts of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainTest {
    pub train: LabelledImages,
    pub test: LabelledImages,
}

/// MNIST handwritten digits (classes 0 to 9): 60,000 training and 10,000 test images of 28x28.
pub struct Mnist;

impl Mnist {
    /// Reads the four IDX files of MNIST from `dir` (see [`FashionMnist::load`] for the names).
    pub fn load(dir: impl AsRef<Path>) -> Result<TrainTest> {
        load_idx_dir(dir.as_ref())
    }
}

/// Fashion-MNIST: Zalando's article images in 10 classes ([`FashionMnist::CLASS_NAMES`]),
/// 60,000 training and 10,000 test images of 28x28, in MNIST's file layout.
pub struct FashionMnist;

impl FashionMnist {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    pub const DEFAULT_DIR: &'static str = "/usr/share/datasets/fashion-mnist";

    /// The class names, indexed by label.
    pub const CLASS_NAMES: [&'static str; 10] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ];

    /// Reads `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
    /// `t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz` from `dir` (each may also be
    /// present uncompressed, without the `.gz`), checking that labels and images pair up.
    pub fn load(dir: impl AsRef<Path>) -> Result<TrainTest> {
        load_idx_dir(dir.as_ref())
    }

    /// [`FashionMnist::load`] from [`FashionMnist::DEFAULT_DIR`]; the error says which package
    /// provides the files when they are missing.
    pub fn load_default() -> Result<TrainTest> {
        let dir = Path::new(Self::DEFAULT_DIR);
        if !dir.is_dir() {
            return Err(io_error(
                dir,
                "no such directory; install Debian's dataset-fashion-mnist package \
                 (apt install dataset-fashion-mnist) or call FashionMnist::load with the directory \
                 that holds the four IDX files",
            ));
        }
        Self::load(dir)
    }
}

/// Reads both parts of an MNIST-layout dataset from `dir`.
fn load_idx_dir(dir: &Path) -> Result<TrainTest> {
    Ok(TrainTest { train: load_part(dir, "train")?, test: load_part(dir, "t10k")? })
}

/// Reads `{prefix}-images-idx3-ubyte` and `{prefix}-labels-idx1-ubyte` and pairs them up.
fn load_part(dir: &Path, prefix: &str) -> Result<LabelledImages> {
    let images_path = find_idx_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_idx_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path)?;
    if images.n != labels.len() {
        return Err(NnError::Data(format!(
            "{} holds {} images but {} holds {} labels; they must pair up one to one",
            images_path.display(),
            images.n,
            labels_path.display(),
            labels.len()
        )));
    }
    Ok(LabelledImages { images, labels })
}

/// `dir/{stem}.gz`, or `dir/{stem}` where only the uncompressed file is there.
fn find_idx_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    let raw = dir.join(stem);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        Err(io_error(&gz, format!("no such file (nor {stem} uncompressed) in {}", dir.display())))
    }
}
