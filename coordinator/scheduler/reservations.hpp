#pragma once
// Placement with a reservation: reads a short list of the least-loaded hosts that fit (the whole
// region or fleet only when none does, so a refusal says exactly why), lets scheduler/placement
// choose, then locks the chosen host's host_capacity row, checks the choice again against what is
// reserved now, and inserts the host_allocations row, all in one transaction. Placements onto one
// host are serialised by that row lock, so concurrent placements never overcommit it; a placement
// that lost its host to another one tries again from a fresh read, a few times.
#include "coordinator/scheduler/placement.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vpsfleet::scheduler {

struct reservation {
    std::int64_t allocation_id = 0;
    std::int64_t host_id = 0;
    std::int64_t disk_id = 0;
};

using place_result = std::variant<reservation, no_fit>;

// `owner` says who holds the reservation (e.g. "vm:42", "job:..."); vm_id, when known, is stored
// alongside. Returns no_fit when nothing fits, or `contended` after several lost attempts.
place_result place(pqxx::connection& conn, const placement_request& request,
                   const std::string& owner, std::optional<std::int64_t> vm_id = std::nullopt);

// A reservation for a VM that already runs on `host_id` (an imported domain), in the caller's
// transaction under the same host lock as place(). The disk is the one placement would choose on
// that host (the request's kind and interface first, then any); when none has room, the enabled
// disk with the most room left (any disk if none is enabled): the VM is there whatever the books
// say, so this may overcommit, and `fits` says whether it did not. nullopt: the host has no disk.
struct pinned_reservation {
    reservation held;
    bool fits = true;
};
std::optional<pinned_reservation> reserve_on_host(pqxx::work& tx, std::int64_t host_id,
                                                  const placement_request& request,
                                                  const std::string& owner,
                                                  std::optional<std::int64_t> vm_id);

// Changes a reservation's vCPUs, memory and disk in place (a VM moving to another plan on the
// host it runs on), in the caller's transaction under the host's lock. What the reservation holds
// already counts as free for it. no_room, with nothing changed, when the host or its disk lacks
// room for the growth; no_reservation when the reservation (or its host or disk) is gone.
enum class resize_outcome { resized, no_room, no_reservation };
resize_outcome resize_reservation(pqxx::work& tx, std::int64_t allocation_id,
                                  const placement_request& request);

// Deletes the reservation; false when there was none with that id.
bool release(pqxx::connection& conn, std::int64_t allocation_id);

// The hosts placement considers: every host of a region (or of the fleet), with its disks and
// reserved totals, ordered by id.
std::vector<candidate_host> read_candidates(pqxx::transaction_base& tx,
                                            std::optional<std::int64_t> region_id);
std::optional<candidate_host> read_candidate(pqxx::transaction_base& tx, std::int64_t host_id);

// Up to `limit` hosts that can take the request (enabled, online, in an enabled region, with the
// vCPUs, memory and a matching disk with room it asks for), each with all its disks, least loaded
// first and ties on the lowest id: the first `limit` of rank_placements over read_candidates.
std::vector<candidate_host> read_short_list(pqxx::transaction_base& tx,
                                            const placement_request& request, int limit);

}  // namespace vpsfleet::scheduler
