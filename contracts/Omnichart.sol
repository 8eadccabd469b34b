// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Omnichart ledger
/// @notice Pointers and keys for a personal-health-record network: which CID is which record version of
/// which patient, and each account's X25519 box public key. Records are anchored as events only; the
/// node's indexer rebuilds its cache from them, so no per-record storage is paid for.
contract Omnichart {
    /// @notice One record version to anchor; `cid` is the binary CID of the encrypted envelope.
    struct RecordAnchor {
        address patient;
        bytes16 recordId;
        uint32 version;
        bytes cid;
    }

    address public immutable owner;
    mapping(address => bool) public isRelayer;
    mapping(address => bytes32) private _accountKeys;

    event RelayerSet(address indexed relayer, bool enabled);
    event AccountKeyRegistered(address indexed account, bytes32 boxPublicKey);
    event RecordAnchored(address indexed patient, bytes16 indexed recordId, uint32 version, bytes cid);

    error NotOwner();
    error NotRelayer();
    error ZeroAddress();
    error EmptyBatch();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyRelayer() {
        if (!isRelayer[msg.sender]) revert NotRelayer();
        _;
    }

    constructor() {
        owner = msg.sender;
        isRelayer[msg.sender] = true;
        emit RelayerSet(msg.sender, true);
    }

    /// @notice Allow or stop an account relaying transactions for a node.
    function setRelayer(address relayer, bool enabled) external onlyOwner {
        if (relayer == address(0)) revert ZeroAddress();
        isRelayer[relayer] = enabled;
        emit RelayerSet(relayer, enabled);
    }

    /// @notice Record the X25519 public key that record keys for `account` are sealed to.
    /// @dev The node verifies the account's signature off chain before relaying.
    function registerAccountKey(address account, bytes32 boxPublicKey) external onlyRelayer {
        if (account == address(0)) revert ZeroAddress();
        _accountKeys[account] = boxPublicKey;
        emit AccountKeyRegistered(account, boxPublicKey);
    }

    /// @notice The box public key registered for `account`, or zero when none is.
    function accountKey(address account) external view returns (bytes32) {
        return _accountKeys[account];
    }

    /// @notice Anchor a batch of record versions: one event per item, nothing stored.
    function anchorRecords(RecordAnchor[] calldata items) external onlyRelayer {
        uint256 n = items.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            RecordAnchor calldata item = items[i];
            emit RecordAnchored(item.patient, item.recordId, item.version, item.cid);
        }
    }

    // Next (not implemented yet):
    // - Consent: grantAccess/revokeAccess taking an EIP-712 signature by the patient (OpenZeppelin EIP712 +
    //   ECDSA, per-patient nonces against replay), emitting GrantChanged; the contract checks the signer, so
    //   no relayer can forge consent.
    // - Audit: anchorAuditRoot(patient, batchRoot, count) emitting AuditAnchored for hash-chained batches.
}
