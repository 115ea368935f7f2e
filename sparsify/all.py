"The public names of sparsify, for `from sparsify.all import *` (hand-written: nbdev does not generate this file)."
from sparsify.core import (SparsifyWarning, warn, split_batch, first_sample, unwrap_model, CONTEXTS, check_context, layer_matcher, per_layer,
                           check_fraction, show_pattern)
from sparsify.weights import (WeightSlot, weight_slots, QKV, USER_CHOICES, attention_outputs, layer_dims, layer_kind, param_name, param_of, is_input_major, is_weight_dropout,
                              mark_pruned, marked_zeros, coverage, uncovered_share, CONV_LAYERS, CONV_TRANSPOSE_LAYERS, LINEAR_LAYERS,
                              EMBEDDING_LAYERS)
from sparsify.granularity import (Granularity, DimGranularity, NM, Block, get_granularity, granularities,
                                  weight_granularity, row, column, kernel, channel, filter_granularity)
from sparsify.stats import Statistics, LayerStats, STATS, GRAD_STATS, check_decay, remove_stat_hooks
from sparsify.criteria import (Criterion, LayerState, criterion, get_criterion, criteria, KNOWN_NEEDS, WINDOWS, large_final, small_final,
                               large_init, small_init, movement, signed_movement, random, large_init_large_final,
                               small_init_small_final, magnitude_increase, movmag, taylor, movement_score, fisher, wanda)
from sparsify.schedules import (ScheduleFn, schedule_fn, one_shot, lin, cos, agp, one_cycle, logistic, dsd, DEFAULT_WINDOW, schedules, get_schedule,
                                check_schedule_fn, check_sparsity, check_fit_plan, progress_at_step, Plan, Schedule, Gradual, Cubic, OneShot)
from sparsify.select import keep_lowest, keep_lowest_reference, tied_to_prune, spread_keys, count_true, count_zeros
from sparsify.engine import MaskEngine, builds_engine
from sparsify.sparsifier import Sparsifier, nearest_counts, find_layers, scan_layers, round_half_down, DEFAULT_LAYERS, near_bounds, raise_to_inf
from sparsify.report import sparsity_report, format_report, model_sparsity, plot_layer_sparsity, plot_mask, mask_image, plot_accuracy_vs_sparsity
from sparsify.oneshot import (prune_oneshot, ONESHOT_METHODS, sparsegpt, spread, keep_per_row, keep_nm, as_matrix, from_matrix, input_columns,
                              SPARSEGPT_CONVS)
from sparsify.callback import SparsifyCallback, resolve_target
from sparsify.data import digits_dls, mnist_sample_dls, digits_tensors, mnist_sample_tensors, tensor_dls, TensorPairs, small_cnn
from sparsify.measure import (count_macs, remaining_macs, nonzeros, size_on_disk, measure_latency, compression_report,
                              format_compression, plot_compression)
from sparsify.structural import (StructuralPruner, prune_to_speedup, PruneCallback, save_pruned, load_pruned, group_scores,
                                 repoint_optimizer, build_graph, resolve_layers, default_ignored, rewrap_ddp, call_model,
                                 Conv1DPruner, attention_kind, AttentionHeads, group_slices, group_refusal)
from sparsify.groups import DependencyGroups, GroupSparsifier, remove_zeroed, tied_parameters
from sparsify.export import (SparseLinear, SparseConv2d, SPARSE_LAYERS, to_csr, to_sparse_layers, to_dense_layers, pack_bits, unpack_bits,
                             pack_state_dict, unpack_state_dict, save_packed, load_packed, packed_size, checksum, PACKED_FORMAT, PACKED_FORMATS)
from sparsify.regularize import (RegularizeCallback, REGULARIZERS, BN_LAYERS, group_norms, l1_grad, group_lasso_grad,
                                 growing_grad)
from sparsify.rewind import (RewindCallback, load_start, reinit_weights, Ticket, TicketSearch, REWINDS, find_ticket, train_ticket,
                             plot_tickets, RecoveryCallback)
try: from sparsify.distributed import GlooDistributedDL, distrib_cpu_ctx   # needs accelerate, as fastai.distributed does
except (ImportError, NameError): pass                                    # fastai.distributed fails with NameError without it

__all__ = [n for n in dir() if not n.startswith('_')]
