/* A blob writer that passes the bytes to another writer on a second thread through a small
 * bounded ring of buffers (storage/writer_pipe.c), so receiving and writing overlap. */
#ifndef BERTH_STORAGE_WRITER_PIPE_H
#define BERTH_STORAGE_WRITER_PIPE_H

#include "common/digest.h"
#include "storage/blobstore.h"

/* Wrap inner; the returned writer owns inner and finishes it in its own finish. If hash
 * is not NULL, every byte kept is fed to it in order before it is written; after a
 * successful finish with keep=true it covers exactly the bytes written. */
struct blob_writer *writer_pipe_wrap(struct blob_writer *inner, struct digest_ctx *hash);

#endif
