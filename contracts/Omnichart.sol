// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title Omnichart ledger
/// @notice Pointers, keys and consent for a personal-health-record network: which CID is which record
/// version of which patient, each account's X25519 box public key, patient-signed grants and revocations,
/// break-glass overrides, audit-log roots and model anchors. Records are anchored as events only; the
/// node's indexer rebuilds its cache from them, so no per-record storage is paid for.
/// @dev Consent is EIP-712 typed data signed by the patient (domain "Omnichart", version "1"). Anyone
/// may relay it: the signature is the authority, so a relayer cannot grant what the patient did not sign.
contract Omnichart is EIP712, Nonces {
    /// @notice One record version to anchor; `cid` is the binary CID of the encrypted envelope.
    struct RecordAnchor {
        address patient;
        bytes16 recordId;
        uint32 version;
        bytes cid;
    }

    /// @notice Grant typed data as the patient signs it.
    struct GrantRequest {
        address patient;
        address grantee;
        string scopes;
        uint64 expiresAt;
        uint256 nonce;
    }

    /// @notice A stored grant (three slots: patient+expiresAt+revoked, grantee, scopesHash).
    struct Grant {
        address patient;
        uint64 expiresAt;
        bool revoked;
        address grantee;
        bytes32 scopesHash;
    }

    /// @notice One audit batch root to anchor.
    struct AuditRoot {
        address patient;
        bytes32 root;
        uint64 firstSeq;
        uint64 lastSeq;
    }

    struct ModelAnchor {
        bytes cid;
        bytes32 metricsHash;
        uint64 blockNumber;
    }

    bytes32 public constant GRANT_TYPEHASH =
        keccak256("Grant(address patient,address grantee,string scopes,uint64 expiresAt,uint256 nonce)");
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(address patient,uint256 grantId,uint256 nonce)");

    address public immutable owner;
    mapping(address => bool) public isRelayer;
    mapping(address => bytes32) private _accountKeys;
    /// @notice Number of grants ever created; grant ids are 1..grantCount in creation order (0 = none).
    uint256 public grantCount;
    mapping(uint256 => Grant) private _grants;
    mapping(address => mapping(bytes32 => uint64)) private _auditRootBlocks;
    mapping(bytes32 => ModelAnchor) private _models;

    event RelayerSet(address indexed relayer, bool enabled);
    event AccountKeyRegistered(address indexed account, bytes32 boxPublicKey);
    event RecordAnchored(address indexed patient, bytes16 indexed recordId, uint32 version, bytes cid);
    event GrantCreated(
        uint256 indexed grantId,
        address indexed patient,
        address indexed grantee,
        string scopes,
        uint64 expiresAt
    );
    event GrantRevoked(uint256 indexed grantId, address indexed patient, address indexed grantee);
    event BreakGlass(address indexed patient, address indexed practitioner, bytes32 reasonHash, uint64 expiresAt);
    event AuditRootAnchored(address indexed patient, bytes32 indexed root, uint64 firstSeq, uint64 lastSeq);
    event ModelAnchored(bytes32 indexed modelId, bytes cid, bytes32 metricsHash);

    error NotOwner();
    error NotRelayer();
    error ZeroAddress();
    error EmptyBatch();
    /// @notice The signature is malformed or was not made by the patient over this exact message.
    error InvalidSignature();
    /// @notice The signed nonce is not the patient's current one (a replay, or signed too early).
    error InvalidNonce(address patient, uint256 expected, uint256 given);
    /// @notice The grant (or break-glass) expiry is not in the future.
    error GrantExpired(uint64 expiresAt, uint256 blockTimestamp);
    /// @notice The grantee is the zero address or the patient.
    error InvalidGrantee();
    error UnknownGrant(uint256 grantId);
    error GrantAlreadyRevoked(uint256 grantId);
    error InvalidAuditRoot();
    error InvalidSequenceRange(uint64 firstSeq, uint64 lastSeq);
    error InvalidModel();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyRelayer() {
        if (!isRelayer[msg.sender]) revert NotRelayer();
        _;
    }

    constructor() EIP712("Omnichart", "1") {
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

    // ---- Consent -------------------------------------------------------------------------------------

    /// @notice Record a grant the patient signed (EIP-712 `Grant`); returns its id. Anyone may relay.
    /// @dev Checks, in order: grantee, expiry, signature, nonce. The nonce is consumed, so the same
    /// signature can never be used twice.
    function grantAccess(
        GrantRequest calldata request,
        bytes calldata signature
    ) external returns (uint256 grantId) {
        if (request.grantee == address(0) || request.grantee == request.patient) revert InvalidGrantee();
        if (request.expiresAt <= block.timestamp) revert GrantExpired(request.expiresAt, block.timestamp);
        bytes32 scopesHash = keccak256(bytes(request.scopes));
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                request.patient,
                request.grantee,
                scopesHash,
                request.expiresAt,
                request.nonce
            )
        );
        _requireSigner(structHash, signature, request.patient);
        _consumeNonce(request.patient, request.nonce);
        grantId = ++grantCount;
        _grants[grantId] = Grant({
            patient: request.patient,
            expiresAt: request.expiresAt,
            revoked: false,
            grantee: request.grantee,
            scopesHash: scopesHash
        });
        emit GrantCreated(grantId, request.patient, request.grantee, request.scopes, request.expiresAt);
    }

    /// @notice Revoke a grant; the signature (EIP-712 `Revoke`) must be the grant's patient's.
    function revokeAccess(uint256 grantId, uint256 nonce, bytes calldata signature) external {
        Grant storage grant = _grants[grantId];
        address patient = grant.patient;
        if (patient == address(0)) revert UnknownGrant(grantId);
        if (grant.revoked) revert GrantAlreadyRevoked(grantId);
        _requireSigner(keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantId, nonce)), signature, patient);
        _consumeNonce(patient, nonce);
        grant.revoked = true;
        emit GrantRevoked(grantId, patient, grant.grantee);
    }

    /// @notice The stored grant; all fields zero when `grantId` is unknown.
    function getGrant(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @notice True while the grant exists, is not revoked and `block.timestamp < expiresAt`.
    function isGrantActive(uint256 grantId) external view returns (bool) {
        Grant storage grant = _grants[grantId];
        return grant.patient != address(0) && !grant.revoked && block.timestamp < grant.expiresAt;
    }

    /// @notice The EIP-712 domain separator (name "Omnichart", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Make an emergency override public and permanent; the node's policy decides whether to allow
    /// it. The reason itself stays off chain (it may name a condition): only its keccak256 is recorded.
    function recordBreakGlass(
        address patient,
        address practitioner,
        bytes32 reasonHash,
        uint64 expiresAt
    ) external onlyRelayer {
        if (patient == address(0) || practitioner == address(0)) revert ZeroAddress();
        if (expiresAt <= block.timestamp) revert GrantExpired(expiresAt, block.timestamp);
        emit BreakGlass(patient, practitioner, reasonHash, expiresAt);
    }

    // ---- Audit --------------------------------------------------------------------------------------

    /// @notice Anchor the Merkle root of one patient's audit entries `firstSeq..lastSeq`.
    function anchorAuditRoot(address patient, bytes32 root, uint64 firstSeq, uint64 lastSeq) external onlyRelayer {
        _anchorAuditRoot(patient, root, firstSeq, lastSeq);
    }

    /// @notice Anchor several audit roots (any patients) in one transaction.
    function anchorAuditRoots(AuditRoot[] calldata roots) external onlyRelayer {
        uint256 n = roots.length;
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            AuditRoot calldata r = roots[i];
            _anchorAuditRoot(r.patient, r.root, r.firstSeq, r.lastSeq);
        }
    }

    /// @notice Block in which `root` was first anchored for `patient`, or 0 when it never was.
    function auditRootBlock(address patient, bytes32 root) external view returns (uint64) {
        return _auditRootBlocks[patient][root];
    }

    // ---- Models -------------------------------------------------------------------------------------

    /// @notice Anchor a model version: its artifact CID and the hash of its metrics. A new version of the
    /// same model overwrites the previous anchor (the events keep the history).
    function anchorModel(bytes32 modelId, bytes calldata cid, bytes32 metricsHash) external onlyRelayer {
        if (modelId == bytes32(0) || cid.length == 0) revert InvalidModel();
        _models[modelId] = ModelAnchor({cid: cid, metricsHash: metricsHash, blockNumber: uint64(block.number)});
        emit ModelAnchored(modelId, cid, metricsHash);
    }

    /// @notice The latest anchor of `modelId`; an empty cid and block 0 when none.
    function modelAnchor(
        bytes32 modelId
    ) external view returns (bytes memory cid, bytes32 metricsHash, uint64 blockNumber) {
        ModelAnchor storage m = _models[modelId];
        return (m.cid, m.metricsHash, m.blockNumber);
    }

    // ---- Internals ----------------------------------------------------------------------------------

    function _requireSigner(bytes32 structHash, bytes calldata signature, address expected) private view {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(
            _hashTypedDataV4(structHash),
            signature
        );
        if (err != ECDSA.RecoverError.NoError || signer != expected) revert InvalidSignature();
    }

    function _consumeNonce(address patient, uint256 nonce) private {
        uint256 current = _useNonce(patient);
        if (nonce != current) revert InvalidNonce(patient, current, nonce);
    }

    /// @dev A root anchored again (a retried batch) keeps its first block and emits nothing.
    function _anchorAuditRoot(address patient, bytes32 root, uint64 firstSeq, uint64 lastSeq) private {
        if (patient == address(0)) revert ZeroAddress();
        if (root == bytes32(0)) revert InvalidAuditRoot();
        if (firstSeq > lastSeq) revert InvalidSequenceRange(firstSeq, lastSeq);
        if (_auditRootBlocks[patient][root] != 0) return;
        _auditRootBlocks[patient][root] = uint64(block.number);
        emit AuditRootAnchored(patient, root, firstSeq, lastSeq);
    }
}
