// Package execpages keeps a process's resident memory for its own binary
// down to the pages it uses.
//
// # Basics
//
// A Go binary's code and tables (.text, .rodata, .gopclntab) are mapped
// from the file: a page counts in the process's RSS (RssFile) once it is
// mapped. When the binary is in the page cache, every page fault maps the
// cached pages of the aligned 64 KiB around the page (the kernel's
// fault-around), and a fault on a page not cached reads ahead (up to the
// device's read_ahead_kb, 8 MiB on some machines), so a process that uses
// half of its binary ends up with nearly all of it mapped.
//
// Trim, called once the process has started, undoes that: it drops the
// binary's read-only mappings from the page table (they refault from the
// file on the next touch; a read-only private mapping holds nothing the
// file does not), advises random access (no read-ahead), cuts the code
// mapping into small pieces (since Linux 6.16 the kernel reads ahead in
// executable mappings whatever the advice, but never past the mapping's
// end) and drops the file's pages from the page cache. From then on a
// fault reads and maps about the page it needs, as with read-ahead off.
//
// # Caveats
//
// Linux only; elsewhere Trim returns errors.ErrUnsupported. It costs page
// reads: every page the process touches afterwards is read from the file
// once, a piece at a time (a few thousand small reads for a 14 MB binary,
// spread over the first minutes), and the next process to start from the
// same file finds less of it cached. Mappings holding private pages (a
// dynamically linked binary's relocated data, a debugger's breakpoints)
// are left alone. The pieces of the code mapping alternate
// MADV_DONTDUMP and the default (mappings with different flags are not
// merged back): a core dump that includes file-backed mappings (bit 2 of
// /proc/<pid>/coredump_filter, off by default) lacks every other piece;
// each piece is a kernel mapping structure (about 200 bytes). The pages
// cached for other processes mapping the same file stay.
package execpages
