/* The plain C interface of libtinylm_spm.so, the module that holds
 * sentencepiece (see models/tokenizer.h for why it is a separate module).
 *
 * The module is loaded with dlmopen into its own link-map namespace, so it
 * has its own C++ runtime, its own heap and its own Protobuf. Only C types
 * cross this interface: a model is an opaque handle, text is (pointer,
 * length) bytes, ids are `int`. Every buffer the module allocates is freed
 * by the module's own free function, never by the caller's free/delete.
 *
 * Functions that can fail return 0 on success and nonzero on failure, and
 * then set `*error` to a NUL-terminated message allocated by the module
 * (free it with tinylm_spm_free_string). Functions taking an id accept any
 * int and treat an out-of-range id as "no such piece". A handle may be used
 * from several threads at once; it must not be freed while in use.
 *
 * The loader looks up each function by the name below; the typedefs give
 * the matching pointer types.
 */
#ifndef TINYLM_MODELS_SPM_SPM_MODULE_H_
#define TINYLM_MODELS_SPM_SPM_MODULE_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TINYLM_SPM_EXPORT __attribute__((visibility("default")))
#else
#define TINYLM_SPM_EXPORT
#endif

/* Bumped on every incompatible change, so that a stale module installed
 * next to a newer program is refused with a clear error instead of being
 * called through mismatched signatures. */
#define TINYLM_SPM_ABI_VERSION 1

typedef struct TinylmSpmModel TinylmSpmModel; /* opaque */

TINYLM_SPM_EXPORT int tinylm_spm_abi_version(void);

/* Loads a .model file. Returns NULL and sets *error on failure. */
TINYLM_SPM_EXPORT TinylmSpmModel* tinylm_spm_load(const char* path,
                                                  char** error);
TINYLM_SPM_EXPORT void tinylm_spm_free(TinylmSpmModel* model);

/* Encodes `len` bytes of text; on success *ids (free with
 * tinylm_spm_free_ids) holds *num_ids ids. */
TINYLM_SPM_EXPORT int tinylm_spm_encode(const TinylmSpmModel* model,
                                        const char* text, size_t len, int** ids,
                                        size_t* num_ids, char** error);
/* Decodes ids to text; on success *text (free with tinylm_spm_free_string)
 * holds *len bytes plus a terminating NUL. Fails on an out-of-range id. */
TINYLM_SPM_EXPORT int tinylm_spm_decode(const TinylmSpmModel* model,
                                        const int* ids, size_t num_ids,
                                        char** text, size_t* len, char** error);

/* The piece of `id` as stored in the model, or NULL when out of range. The
 * bytes belong to the model and stay valid until tinylm_spm_free. */
TINYLM_SPM_EXPORT const char* tinylm_spm_id_to_piece(
    const TinylmSpmModel* model, int id, size_t* len);
/* The id of a piece, or the unknown id when the model has no such piece. */
TINYLM_SPM_EXPORT int tinylm_spm_piece_to_id(const TinylmSpmModel* model,
                                             const char* piece, size_t len);

TINYLM_SPM_EXPORT int tinylm_spm_vocab_size(const TinylmSpmModel* model);
/* Special ids; -1 when the model has none. */
TINYLM_SPM_EXPORT int tinylm_spm_bos_id(const TinylmSpmModel* model);
TINYLM_SPM_EXPORT int tinylm_spm_eos_id(const TinylmSpmModel* model);
TINYLM_SPM_EXPORT int tinylm_spm_unk_id(const TinylmSpmModel* model);
TINYLM_SPM_EXPORT int tinylm_spm_pad_id(const TinylmSpmModel* model);

/* Piece kinds: 1 or 0 (0 for an out-of-range id). */
TINYLM_SPM_EXPORT int tinylm_spm_is_byte(const TinylmSpmModel* model, int id);
TINYLM_SPM_EXPORT int tinylm_spm_is_control(const TinylmSpmModel* model,
                                            int id);
TINYLM_SPM_EXPORT int tinylm_spm_is_unknown(const TinylmSpmModel* model,
                                            int id);

/* Trains a model. `keys`/`values` are `count` sentencepiece trainer options
 * without the leading "--" (e.g. "input", "model_prefix", "vocab_size"),
 * applied over the module's defaults; the options that exact round trips
 * depend on are fixed and cannot be changed (see spm_module.cc). Setting
 * `quiet` silences sentencepiece's progress log. */
TINYLM_SPM_EXPORT int tinylm_spm_train(const char* const* keys,
                                       const char* const* values, size_t count,
                                       int quiet, char** error);

TINYLM_SPM_EXPORT void tinylm_spm_free_ids(int* ids);
TINYLM_SPM_EXPORT void tinylm_spm_free_string(char* str);

/* Pointer types for the loader's dlsym. */
typedef int (*TinylmSpmAbiVersionFn)(void);
typedef TinylmSpmModel* (*TinylmSpmLoadFn)(const char*, char**);
typedef void (*TinylmSpmFreeFn)(TinylmSpmModel*);
typedef int (*TinylmSpmEncodeFn)(const TinylmSpmModel*, const char*, size_t,
                                 int**, size_t*, char**);
typedef int (*TinylmSpmDecodeFn)(const TinylmSpmModel*, const int*, size_t,
                                 char**, size_t*, char**);
typedef const char* (*TinylmSpmIdToPieceFn)(const TinylmSpmModel*, int,
                                            size_t*);
typedef int (*TinylmSpmPieceToIdFn)(const TinylmSpmModel*, const char*, size_t);
typedef int (*TinylmSpmModelIntFn)(const TinylmSpmModel*);
typedef int (*TinylmSpmIdPredicateFn)(const TinylmSpmModel*, int);
typedef int (*TinylmSpmTrainFn)(const char* const*, const char* const*, size_t,
                                int, char**);
typedef void (*TinylmSpmFreeIdsFn)(int*);
typedef void (*TinylmSpmFreeStringFn)(char*);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TINYLM_MODELS_SPM_SPM_MODULE_H_ */
