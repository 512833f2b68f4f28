import SwitchyardOS

/// What a live reload does to one worker's backend host states: a host that is still configured
/// the same way (same table, route, place and options) keeps its state - pooled connections,
/// load count, disable-time - under the new generation; every other state is retired. A retired
/// state keeps serving the exchanges that were routed to it before the reload (an open WebSocket
/// may last hours), its idle pooled connections close now and busy ones as they go idle, and it
/// is dropped once nothing uses it.
extension BackendRuntime {
    func reload(tables: [GatewayRouteTable]) {
        let generation = worker.config.generation
        var wanted: [HostKey: (table: GatewayRouteTable, route: Int, host: BackendHostConfig)] = [:]
        for table in tables {
            for (r, route) in table.routes.enumerated() {
                for (h, host) in route.hosts.enumerated() { wanted[HostKey(table: table.key, route: r, host: h)] = (table, r, host) }
            }
        }
        for (key, hs) in hosts {
            if let w = wanted[key], w.table.routes[w.route].match == hs.statusRoute,
               StatusRouteRegistry.module(w.table.wireProtocol) == hs.statusModule, hs.config.isSameBackend(as: w.host) {
                hs.generation = generation
                continue
            }
            hosts[key] = nil
            hs.retire()
            retired.append(hs)
        }
        roundRobin.removeAll()
        pruneRetired()
    }

    /// Exchanges still running on retired host states, per spawned backend's address and the
    /// generation each state served last (only `bin-path` hosts are counted: the supervisor
    /// stops such a backend once nothing from the generations it served uses it).
    func retiredSpawnedUsers() -> [SpawnedUse: Int] {
        var users: [SpawnedUse: Int] = [:]
        for hs in retired where hs.config.binPath != nil && hs.active > 0 {
            users[SpawnedUse(address: hs.config.addressDescription, generation: hs.generation), default: 0] += hs.active
        }
        return users
    }

    /// Drops retired states nothing uses any more (no exchange, no open pooled connection).
    func pruneRetired() {
        guard !retired.isEmpty else { return }
        retired.removeAll { $0.active <= 0 && $0.fastcgi.count == 0 && $0.proxy.count == 0 }
    }
}

/// Where retired exchanges are: a spawned backend's address and a configuration generation.
struct SpawnedUse: Hashable, Sendable {
    let address: String
    let generation: Int
}

extension BackendRuntime.HostState {
    /// No new requests come here: pooled connections close once idle.
    func retire() {
        fastcgi.retire()
        proxy.retire()
    }
}

extension BackendHostConfig {
    /// The same backend with the same options, wherever in the file it is written: a reload keeps
    /// such a host's state (and a spawned backend's processes). Compared through the value's
    /// reflected description, which lists every stored option, so an option added later takes
    /// part without this needing an update; only `location` and `name` (a label for messages,
    /// the route's match when the host has none) are left out.
    func isSameBackend(as other: BackendHostConfig) -> Bool {
        var a = self
        a.location = other.location
        a.name = other.name
        return String(describing: a) == String(describing: other)
    }
}
