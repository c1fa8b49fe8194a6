package execpages

// PieceSize is the size of the pieces Trim cuts the code mapping into:
// the most a fault in it reads ahead and maps. 16 KiB keeps the number of
// kernel mappings in the hundreds for a binary of megabytes.
const PieceSize = 16 << 10

// Result says what Trim did.
type Result struct {
	Mappings int    // read-only mappings of the binary trimmed
	Bytes    uint64 // their size
	Skipped  int    // read-only mappings left alone: they hold private pages
}
